"""The cycle collector's pacing for a run, kept apart from the engine's flow."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def fewer_collections(young: int = 20_000) -> Iterator[None]:
    """Run with Python's cycle collector woken less often, then put it back as it was.

    A batch makes many short-lived containers (rows, field dicts) that reference counting
    frees, and almost no cycles; at the default young-generation threshold (700) the
    collector woke about 500 times per 10,000 responses, and each older-generation pass
    walked everything already loaded (modules, the org's describe, the geography tables).
    That was a tenth of a sync's CPU. Freezing what exists before the run takes it out of
    those passes; cycles are still collected, just in larger, rarer sweeps.
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
