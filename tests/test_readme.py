"""The README's tour, run as a user pastes it, against the session's system: every call must
succeed, the simulated charger must connect and boot, and the database must show it."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path

from tests.conftest import RunningSystem

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def tour() -> str:
    """The bash block after the README's `<!-- tour -->` marker."""
    found = re.search(r"<!-- tour -->\n```bash\n(.*?)```", README.read_text(), re.S)
    assert found, "the README has no tour block"
    return found.group(1)


def as_run_here(script: str, system: RunningSystem, var: Path) -> str:
    """The tour with only what differs from `make run` replaced: the port, the `var/` files,
    the checkout's `.venv`, and the simulator's minute; each curl fails on an error status."""
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{system.port}")
    script = script.replace("var/", f"{var}/").replace(".venv", f"{REPO}/.venv")
    script = script.replace("--duration 60", "--duration 10")
    return script.replace("curl -s ", "curl -s --fail-with-body ")


def test_the_tour_pastes_as_written():
    script = tour()
    assert "curl -s " in script and "--duration 60" in script and "var/admin_token" in script
    assert "porto-3" in script.split("CP-001")[0]  # the site exists before the charger


async def test_the_readmes_tour_works_against_a_running_system(
    system: RunningSystem, database_url: str, tmp_path: Path
):
    var = tmp_path / "var"  # what `make run` leaves in ./var
    var.mkdir()
    (var / "admin_token").write_text(system.admin_token + "\n")
    (var / "database_url").write_text(database_url + "\n")
    script = "set -euo pipefail\n" + as_run_here(tour(), system, var)
    run = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((tmp_path / "simulation.json").read_text())
    assert report["boots"] >= 1 and report["errors"] == 0, report
    assert '"status":"Accepted"' in run.stdout  # the Reset, answered by the charger
    rows = [line for line in run.stdout.splitlines() if line.strip().startswith("CP-001")]
    assert rows and "porto-3" in rows[0], run.stdout[-2000:]
