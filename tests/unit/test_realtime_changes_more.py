"""postgres_changes bindings, filters and payload shapes on their own (no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runner.serve.realtime.changes import (
    BindingError,
    Change,
    TableInfo,
    change_data,
    parse_binding,
    parse_filter,
    reply_bindings,
)


def matches(text: str, row: dict[str, object]) -> bool:
    return all(c.matches(row) for c in parse_filter(text))


def test_is_filters_on_booleans_and_null() -> None:
    """``is.true``/``is.false`` match booleans by identity; other ``is`` values never match."""
    row = {"ok": True, "no": False, "one": 1, "gone": None}
    assert matches("ok=is.true", row)
    assert not matches("ok=is.false", row)
    assert matches("no=is.FALSE", row)
    assert not matches("one=is.true", row)
    assert not matches("ok=is.maybe", row)
    assert not matches("gone=is.true", row)


def test_null_values_never_match_comparisons() -> None:
    """A NULL column fails eq, neq and in, as SQL comparisons with NULL do."""
    row = {"x": None}
    for text in ("x=eq.1", "x=neq.1", "x=in.(1,2)", "x=gt.0"):
        assert not matches(text, row), text


def test_values_of_the_wrong_type_do_not_match() -> None:
    """A boolean compared with a non-boolean or a number with a non-number never matches."""
    row = {"flag": True, "n": 3}
    assert not matches("flag=eq.yes", row)
    assert not matches("flag=neq.yes", row)
    assert matches("flag=neq.false", row)
    assert not matches("n=eq.three", row)
    assert not matches("n=neq.three", row)
    assert matches("n=in.(1,3.0)", row)


def test_timestamps_compare_as_times_and_other_values_as_json() -> None:
    """ISO timestamps compare chronologically; malformed ones and JSON values by their text."""
    row = {
        "at": "2024-01-02T10:00:00+00:00",
        "bad": "2024-13-99 nope",
        "tags": ["a"],
        "obj": {"k": 1},
    }
    # 09:00 UTC-02:00 is 11:00 UTC: later, although the text sorts first
    assert matches("at=lt.2024-01-02T09:00:00-02:00", row)
    assert not matches("at=gt.2024-01-02T09:00:00-02:00", row)
    assert matches("bad=gt.2024-01-01", row)
    assert matches('tags=eq.["a"]', row)
    assert not matches('tags=eq.["b"]', row)
    assert matches('obj=eq.{"k": 1}', row)
    assert matches('obj=lt.{"k": 2}', row)


def test_malformed_filters_and_bindings_are_refused() -> None:
    """Bad filters, a non-object binding, an unknown event or non-string parts raise."""
    for text in ("n=eq", "=eq.1", "n=like.1", "n=in.1,2", "n"):
        with pytest.raises(BindingError, match="filter"):
            parse_filter(text)
    with pytest.raises(BindingError, match="objects"):
        parse_binding(["INSERT"])
    with pytest.raises(BindingError, match="TRUNCATE"):
        parse_binding({"event": "truncate"})
    with pytest.raises(BindingError, match="strings"):
        parse_binding({"event": "*", "table": 5})
    with pytest.raises(BindingError, match="filter must be a string"):
        parse_binding({"event": "*", "table": "t", "filter": ["id=eq.1"]})


def test_binding_matches_schema_table_event_and_filter() -> None:
    """A binding selects on schema, table (``*`` or none for all), event and its filter."""
    binding = parse_binding({"event": "UPDATE", "table": "runs", "filter": "n=gt.1"})
    assert binding.schema == "public"
    assert binding.matches("public", "runs", "UPDATE", {"n": 2})
    assert not binding.matches("other", "runs", "UPDATE", {"n": 2})
    assert not binding.matches("public", "results", "UPDATE", {"n": 2})
    assert not binding.matches("public", "runs", "INSERT", {"n": 2})
    assert not binding.matches("public", "runs", "UPDATE", {"n": 1})
    assert not binding.matches("public", "runs", "UPDATE", None)
    every = parse_binding({"event": "*", "schema": "public", "table": "*"})
    assert every.matches("public", "anything", "DELETE", None)


def test_binding_ids_are_stable_and_echoed() -> None:
    """The same binding gets the same id; the join reply echoes the binding with it."""
    raw = {"event": "insert", "schema": "public", "table": "runs", "extra": 1}
    first, second = parse_binding(raw), parse_binding(dict(raw))
    other = parse_binding({**raw, "table": "results"})
    assert first.id == second.id != other.id
    assert reply_bindings([first]) == [
        {"event": "insert", "schema": "public", "table": "runs", "id": first.id}
    ]


def test_change_data_old_records_follow_replica_identity_and_rls() -> None:
    """UPDATE old records are empty without FULL; DELETE keeps the key; FULL without RLS all."""
    stamp = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    old, new = {"id": 1, "name": "a"}, {"id": 1, "name": "b"}
    update = Change(1, "public", "t", "UPDATE", new, old, stamp)
    delete = Change(2, "public", "t", "DELETE", None, old, stamp)

    def info(full: bool, rls: bool) -> TableInfo:
        return TableInfo([{"name": "id", "type": "int4"}], ["id"], ["id"], rls, full)

    plain = change_data(update, info(full=False, rls=True))
    assert plain["old_record"] == {} and plain["record"] == new
    assert plain["commit_timestamp"] == "2024-05-06T07:08:09.123Z"
    assert change_data(delete, info(full=False, rls=True))["old_record"] == {"id": 1}
    assert "record" not in change_data(delete, info(full=False, rls=True))
    assert change_data(update, info(full=True, rls=True))["old_record"] == {"id": 1}
    assert change_data(update, info(full=True, rls=False))["old_record"] == old
    assert delete.row == old and update.row == new
