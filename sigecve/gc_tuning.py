"""Python's cyclic garbage collector in the processes that hold thousands of chargers.

CPython collects its youngest objects every 700 allocations and now and then walks every
object of the process. With thousands of connections' objects alive, those walks took
about half of a gateway replica's and a host actor's time while a fleet of 7,500
reconnected at once (py-spy: the samples landed on whatever was allocating). Objects that
exist once a process is set up are frozen out of the walks, and young collections run less
often; reference counting still frees everything that is not in a cycle at once.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython: 700)


def tune_for_many_connections() -> None:
    """Call once a process has set itself up: freeze what exists, collect less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
