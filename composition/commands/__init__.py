"""The `sigecve` commands, one module each: `HELP`, `add_arguments(parser)`, `run(args)`.

A command's module imports what it runs inside `run`, so that `sigecve simulate` does not
load Ray and `sigecve --help` answers at once.
"""

from __future__ import annotations

import sys

# The `sigecve` command as a child process runs it: the core starts processes (a simulation
# in several, the lab's nodes) with this, given to it, rather than importing upwards.
CLI: tuple[str, ...] = (sys.executable, "-m", "composition.cli")
