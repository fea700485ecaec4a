"""The results file every benchmark writes: its command, the machine, its rows."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def write_report(out: Path, command: str, results: list) -> dict:
    """Write `{command, machine, results}` to `out` as JSON; return it."""
    report = {
        "command": command,
        "machine": f"{os.cpu_count()} cores, {platform.platform()}, Python "
        f"{platform.python_version()}",
        "results": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report
