"""Who is joined to what: topic groups, fan-out of broadcasts, presence diffs.

Channels join a topic either public or private; like Supabase, the two are separate
(a private channel never sees public broadcasts of the same topic and vice versa).
A broadcast is encoded once per protocol version and queued on every socket; a
socket that cannot keep up is dropped by its own queue, never waited for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.serve.realtime.presence import Presence
from runner.serve.realtime.protocol import Frame, encode

if TYPE_CHECKING:
    from runner.serve.realtime.channel import Channel


@dataclass
class Group:
    """The channels joined to one topic with one privacy, and their presence."""

    topic: str
    channels: set[Channel] = field(default_factory=set)
    presence: Presence = field(default_factory=Presence)


class Hub:
    """The registry of joined channels of one ``serve`` process."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, bool], Group] = {}
        self.change_channels: set[Channel] = set()

    def add(self, channel: Channel) -> Group:
        """Register a joined channel; its group."""
        key = (channel.sub_topic, channel.private)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(channel.topic)
        group.channels.add(channel)
        if channel.bindings:
            self.change_channels.add(channel)
        return group

    def remove(self, channel: Channel) -> None:
        """Unregister a channel (its presence leaves)."""
        self.change_channels.discard(channel)
        key = (channel.sub_topic, channel.private)
        group = self.groups.get(key)
        if group is None or channel not in group.channels:
            return
        group.channels.discard(channel)
        diff = group.presence.untrack(channel.id)
        if diff is not None:
            self.fan_out(group, Frame(group.topic, "presence_diff", diff))
        if not group.channels:
            del self.groups[key]

    def broadcast(
        self, sub_topic: str, private: bool, payload: dict[str, Any], sender: Channel | None = None
    ) -> int:
        """Send a user broadcast to the topic's channels; how many got it.

        The sender gets its own message only when it joined with ``broadcast.self``.
        """
        group = self.groups.get((sub_topic, private))
        if group is None:
            return 0
        frame = Frame(group.topic, "broadcast", payload)
        skip = sender if sender is not None and not sender.broadcast_self else None
        return self.fan_out(group, frame, skip=skip)

    def fan_out(self, group: Group, frame: Frame, skip: Channel | None = None) -> int:
        """Queue ``frame`` on every channel of ``group`` (encoded once per vsn)."""
        encoded: dict[str, str | bytes] = {}
        sent = 0
        for channel in list(group.channels):
            if channel is skip:
                continue
            vsn = channel.socket.vsn
            data = encoded.get(vsn)
            if data is None:
                data = encoded[vsn] = encode(frame, vsn)
            if channel.socket.send_raw(data):
                sent += 1
        return sent
