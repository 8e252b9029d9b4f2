"""paused_gc: no collection while a suite or plan is built, no walk over it afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from runner.cli.tuning import paused_gc


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector on and nothing frozen, as a plain process has it; restored after."""
    was = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if not was:
        gc.disable()


def test_built_objects_skip_the_young_generations(collector: None) -> None:
    """Inside nothing is collected; after, what was built sits in the oldest generation."""
    with paused_gc():
        assert not gc.isenabled()
        built = [[i] for i in range(50_000)]
        assert gc.get_count()[0] >= 50_000  # no collection happened meanwhile
    assert gc.isenabled()
    assert gc.get_count()[0] < 1_000  # nothing left for a young collection to walk
    assert gc.get_freeze_count() == 0  # promoted, not left frozen
    assert all(gc.is_tracked(b) for b in built[:10])


def test_cycles_made_inside_are_still_collected(collector: None) -> None:
    """A reference cycle built while paused is freed by the next full collection."""
    with paused_gc():
        cycle: list[object] = []
        cycle.append(cycle)
        marker = id(cycle)
    del cycle
    gc.collect()
    assert not any(id(o) == marker for o in gc.get_objects())


def test_a_callers_freeze_is_left_alone(collector: None) -> None:
    """Objects the caller froze stay frozen; a disabled collector stays disabled."""
    keep = [[1], [2]]
    gc.freeze()
    frozen = gc.get_freeze_count()
    gc.disable()
    with paused_gc():
        [[i] for i in range(100)]
    assert gc.get_freeze_count() == frozen and not gc.isenabled()
    assert keep
