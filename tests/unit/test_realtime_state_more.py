"""Realtime bookkeeping on its own: presence state and diffs, and the bounded seen-set."""

from __future__ import annotations

from runner.serve.realtime.listener import Seen
from runner.serve.realtime.presence import Presence


def test_presence_state_groups_metas_by_key() -> None:
    """Two channels tracking the same key are listed under it; state is empty when all left."""
    presence = Presence()
    presence.track(1, "alice", {"tab": 1})
    presence.track(2, "alice", {"tab": 2})
    presence.track(3, "bob", {})
    state = presence.state()
    assert sorted(state) == ["alice", "bob"]
    assert [m["tab"] for m in state["alice"]["metas"]] == [1, 2]
    for channel in (1, 2, 3):
        assert presence.untrack(channel) is not None
    assert presence.state() == {} and presence.untrack(1) is None


def test_tracking_under_a_new_key_leaves_the_old_one() -> None:
    """Re-tracking under another key leaves the old key without phx_ref_prev; same key keeps it."""
    presence = Presence()
    first = presence.track(1, "old", {"v": 1})
    old_meta = first["joins"]["old"]["metas"][0]
    moved = presence.track(1, "new", {"v": 2})
    assert moved["leaves"] == {"old": {"metas": [old_meta]}}
    (new_meta,) = moved["joins"]["new"]["metas"]
    assert "phx_ref_prev" not in new_meta and new_meta["phx_ref"] != old_meta["phx_ref"]
    again = presence.track(1, "new", {"v": 3})
    assert again["joins"]["new"]["metas"][0]["phx_ref_prev"] == new_meta["phx_ref"]


def test_seen_set_forgets_the_oldest_beyond_its_size() -> None:
    """Seen remembers the last ``size`` ids: a repeat is refused until it has been forgotten."""
    seen = Seen(size=2)
    assert [seen.add(i) for i in (1, 2, 1)] == [True, True, False]
    assert seen.add(3) is True  # 1 is forgotten now
    assert seen.add(1) is True
    assert seen.add(3) is False
    assert len(seen.ids) == 2 == len(seen.order)
