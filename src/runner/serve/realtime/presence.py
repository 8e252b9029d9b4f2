"""Presence of one topic, shaped like Phoenix.Presence.

Each channel tracks at most one presence under its key (the join's
``config.presence.key``, else a generated id, as Supabase does). The state goes to a
joining channel as ``presence_state`` ``{key: {"metas": [meta, ...]}}``; every change
goes to all channels of the topic as ``presence_diff`` ``{"joins": ..., "leaves": ...}``,
each meta carrying its ``phx_ref`` (and ``phx_ref_prev`` when it replaces one).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

Metas = dict[str, dict[str, list[dict[str, Any]]]]


def new_ref() -> str:
    """A unique presence reference."""
    return secrets.token_urlsafe(12)


@dataclass
class Presence:
    """Who is present on one topic: channel id -> (key, meta)."""

    entries: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def state(self) -> Metas:
        """The whole state, for ``presence_state``."""
        out: Metas = {}
        for key, meta in self.entries.values():
            out.setdefault(key, {"metas": []})["metas"].append(meta)
        return out

    def track(self, channel_id: int, key: str, payload: dict[str, Any]) -> dict[str, Metas]:
        """Track (or update) the channel's presence; the diff to send."""
        meta: dict[str, Any] = {**payload, "phx_ref": new_ref()}
        leaves: Metas = {}
        previous = self.entries.get(channel_id)
        if previous is not None:
            old_key, old_meta = previous
            if old_key == key:
                meta["phx_ref_prev"] = old_meta["phx_ref"]
            leaves = {old_key: {"metas": [old_meta]}}
        self.entries[channel_id] = (key, meta)
        return {"joins": {key: {"metas": [meta]}}, "leaves": leaves}

    def untrack(self, channel_id: int) -> dict[str, Metas] | None:
        """Forget the channel's presence; the diff to send, or None if it had none."""
        previous = self.entries.pop(channel_id, None)
        if previous is None:
            return None
        key, meta = previous
        return {"joins": {}, "leaves": {key: {"metas": [meta]}}}
