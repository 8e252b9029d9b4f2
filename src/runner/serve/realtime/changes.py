"""postgres_changes: the bindings a channel joins with, their filters, and the payloads.

A binding is ``{event, schema, table?, filter?}`` as both clients send it. The join
reply echoes each one with an ``id`` (a stable hash of the binding, like the
Realtime server's), and every change event carries the ``ids`` of the channel's
bindings it matches: that is how both clients route an event to its callbacks.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

EVENTS = ("*", "INSERT", "UPDATE", "DELETE")
OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte", "in", "is")


class BindingError(ValueError):
    """A postgres_changes binding the server cannot serve."""


@dataclass(frozen=True)
class Condition:
    """``column=op.value`` of a filter."""

    column: str
    op: str
    value: str | tuple[str, ...]

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether ``row`` satisfies the condition (missing column: no)."""
        if self.column not in row:
            return False
        actual = row[self.column]
        if self.op == "is":
            wanted = str(self.value).lower()
            if wanted == "null":
                return actual is None
            return wanted in ("true", "false") and actual is (wanted == "true")
        if actual is None:
            return False
        if self.op == "in":
            return any(_compare(actual, v) == 0 for v in self.value)
        order = _compare(actual, str(self.value))
        if order is None:
            return False
        return {
            "eq": order == 0,
            "neq": order != 0,
            "lt": order < 0,
            "lte": order <= 0,
            "gt": order > 0,
            "gte": order >= 0,
        }[self.op]


def _compare(actual: Any, text: str) -> int | None:
    """-1, 0 or 1 comparing a row value with a filter's text (typed like the value)."""
    if isinstance(actual, bool):
        wanted = text.lower()
        if wanted not in ("true", "false"):
            return None
        return (actual > (wanted == "true")) - (actual < (wanted == "true"))
    if isinstance(actual, (int, float)):
        try:
            number = float(text)
        except ValueError:
            return None
        return (actual > number) - (actual < number)
    if isinstance(actual, str):
        left, right = actual, text
        if _looks_like_time(left) and _looks_like_time(right):
            try:
                a, b = datetime.fromisoformat(left), datetime.fromisoformat(right)
                return (a > b) - (a < b)
            except (TypeError, ValueError):
                pass
        return (left > right) - (left < right)
    rendered = json.dumps(actual, sort_keys=True)
    return (rendered > text) - (rendered < text)


def _looks_like_time(text: str) -> bool:
    return len(text) >= 10 and text[4:5] == "-" and text[7:8] == "-" and text[:4].isdigit()


def parse_filter(text: str) -> tuple[Condition, ...]:
    """``col=op.value`` conditions joined by commas (``in.(a,b)`` keeps its commas)."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    conditions = []
    for part in parts:
        column, sep, rest = part.partition("=")
        op, dot, value = rest.partition(".")
        if not sep or not dot or not column or op not in OPERATORS:
            raise BindingError(f"Error parsing `filter` params: {text[:200]}")
        if op == "in":
            if not (value.startswith("(") and value.endswith(")")):
                raise BindingError(f"Error parsing `filter` params: {text[:200]}")
            items = tuple(v.strip().strip('"') for v in value[1:-1].split(",") if v.strip())
            conditions.append(Condition(column.strip(), op, items))
        else:
            conditions.append(Condition(column.strip(), op, value))
    return tuple(conditions)


@dataclass(frozen=True)
class Binding:
    """One postgres_changes subscription of a channel."""

    id: int
    event: str
    schema: str
    table: str | None
    filter: str | None
    conditions: tuple[Condition, ...]
    echo: dict[str, Any]

    def matches(self, schema: str, table: str, op: str, row: dict[str, Any] | None) -> bool:
        """Whether a change of ``op`` on ``schema.table`` with ``row`` is for this binding."""
        if self.schema != schema or (self.table not in (None, "*") and self.table != table):
            return False
        if self.event not in ("*", op):
            return False
        if not self.conditions:
            return True
        return row is not None and all(c.matches(row) for c in self.conditions)


def parse_binding(raw: Any) -> Binding:
    """A binding from the join config; ``BindingError`` when it cannot be served."""
    if not isinstance(raw, dict):
        raise BindingError("postgres_changes bindings are objects")
    event = str(raw.get("event", "*")).upper()
    if event not in EVENTS:
        raise BindingError(f"unknown postgres_changes event {event[:40]!r}")
    schema = raw.get("schema") or "public"
    table = raw.get("table")
    filter_text = raw.get("filter")
    if not isinstance(schema, str) or (table is not None and not isinstance(table, str)):
        raise BindingError("schema and table must be strings")
    if filter_text is not None and not isinstance(filter_text, str):
        raise BindingError("filter must be a string")
    conditions = parse_filter(filter_text) if filter_text else ()
    echo = {k: v for k, v in raw.items() if k in ("event", "schema", "table", "filter")}
    echo["event"] = raw.get("event", "*")
    echo["schema"] = schema
    key = json.dumps([event, schema, table, filter_text], separators=(",", ":"))
    binding_id = zlib.crc32(key.encode()) & 0x7FFFFFFF
    return Binding(binding_id, event, schema, table, filter_text, conditions, echo)


def reply_bindings(bindings: list[Binding]) -> list[dict[str, Any]]:
    """The ``postgres_changes`` list of the join reply: each binding echoed with its id."""
    return [{**b.echo, "id": b.id} for b in bindings]


@dataclass(frozen=True)
class TableInfo:
    """What payloads and RLS checks need about a published table."""

    columns: list[dict[str, str]]
    insertable: list[str]
    primary_key: list[str]
    rls: bool
    replica_identity_full: bool


@dataclass(frozen=True)
class Change:
    """One captured row change."""

    id: int
    schema: str
    table: str
    type: str
    record: dict[str, Any] | None
    old_record: dict[str, Any] | None
    commit_timestamp: datetime

    @property
    def row(self) -> dict[str, Any] | None:
        """The row filters look at: the new one, or the old one of a delete."""
        return self.record if self.record is not None else self.old_record


def change_data(change: Change, info: TableInfo) -> dict[str, Any]:
    """The ``data`` of a postgres_changes event, as the Realtime server shapes it.

    Like Supabase: an old record holds only the primary key unless the table has
    REPLICA IDENTITY FULL and no RLS; an UPDATE's old record is empty without FULL.
    """
    stamp = change.commit_timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    data: dict[str, Any] = {
        "schema": change.schema,
        "table": change.table,
        "commit_timestamp": stamp,
        "type": change.type,
        "columns": info.columns,
        "errors": None,
    }
    if change.type in ("INSERT", "UPDATE"):
        data["record"] = change.record or {}
    if change.type in ("UPDATE", "DELETE"):
        old = change.old_record or {}
        if info.replica_identity_full and not info.rls:
            data["old_record"] = old
        elif change.type == "DELETE" or info.replica_identity_full:
            data["old_record"] = {k: old.get(k) for k in info.primary_key}
        else:
            data["old_record"] = {}
    return data
