"""Building a big suite or plan without the garbage collector walking it as it grows.

Loading or planning 100,000 tests allocates millions of container objects. With
the collector on, every full collection on the way walks all of them again (loading
became superlinear); paused, the first young-generation collection after it resumes
walks them all once (~0.6 s at that size), only to promote them. ``paused_gc``
pauses collection and, when it ends, promotes what was made meanwhile straight to
the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``: two list splices, no
walk). Nothing stays frozen and cycles are still collected, by the next full
collection. A caller that keeps objects frozen itself (``gc.get_freeze_count()``)
is left alone: unfreezing would undo its freeze.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No collection inside; what was built ages into the oldest generation after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def tuned_for_a_run() -> Iterator[None]:
    """The collector tuned for one long run in a process of our own (``run-suite``).

    Results pile up for the whole run, and with the default thresholds the collector
    re-walks that growing heap again and again (measured: ~100 µs a test, as much as
    httpx's own work). Freezing what is loaded (:func:`frozen_after`) and collecting
    the young generation less often keeps that off the per-test path; cycles are
    still collected. Everything is put back when the run ends.
    """
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@contextlib.contextmanager
def frozen_after() -> Iterator[None]:
    """Collector off while the suite loads, then freeze it and collect young objects less.

    Otherwise the loader ends with one walk over every object it made (~0.5 s at
    100,000 tests), only to freeze them. Use inside :func:`tuned_for_a_run`.
    """
    with paused_gc():
        yield
        gc.freeze()
    gc.set_threshold(50_000, 20, 20)
