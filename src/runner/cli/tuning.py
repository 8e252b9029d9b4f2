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
