"""Every figure in the docs is its benchmark's results (benchmarks/render.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.render import replaced

ROOT = Path(__file__).resolve().parent.parent


def test_every_documents_table_is_its_results():
    checked = subprocess.run(
        [sys.executable, "benchmarks/render.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr


def test_a_block_is_replaced_whole_and_only_its_own():
    text = "a\n<!-- figure: x -->\nold\n<!-- /figure: x -->\nb <!-- figure: y -->"
    assert replaced(text, "x", "new") == (
        "a\n<!-- figure: x -->\nnew\n<!-- /figure: x -->\nb <!-- figure: y -->"
    )
    with pytest.raises(KeyError):
        replaced(text, "y", "new")
