"""Process-wide tuning shared by the long-lived processes (LRS API, worker, parse processes)."""

from __future__ import annotations

import gc


def server_gc() -> None:
    """Tune the cyclic garbage collector for a long-lived server that allocates in bursts.

    Validating a batch of 100 statements allocates tens of thousands of short-lived objects
    (nearly all freed by reference counting), so at CPython's default gen-0 threshold of 700 the
    collector ran dozens of times per batch, each pass walking every young object still alive:
    the API's validation ran at about half speed (issue 14: ``parse_statements`` on batches of
    100 simulated statements, 112 -> 51 us per statement). What is loaded at start (modules,
    models, settings) is frozen out of every later pass.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
