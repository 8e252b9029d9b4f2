"""The CLI's exceptions: their messages, exit codes and the one-line cause chain."""

from __future__ import annotations

from runner.errors import (
    EXIT_DATABASE,
    EXIT_USAGE,
    CapabilityError,
    DatabaseError,
    EmbeddedServerError,
    PlanError,
    SuiteError,
    cause_chain,
)


def test_suite_error_names_file_line_and_key() -> None:
    """The location prefix has file:line, or just file, then the key; the reason is kept."""
    full = SuiteError("bad value", file="s.yaml", line=4, key="tests[0].url")
    assert str(full) == "s.yaml:4: tests[0].url: bad value"
    assert full.reason == "bad value" and full.exit_code == EXIT_USAGE
    assert str(SuiteError("bad", file="s.yaml")) == "s.yaml: bad"
    assert str(SuiteError("bad", key="name")) == "name: bad"
    assert str(PlanError("cycle")) == "cycle"


def test_capability_error_names_store_and_task() -> None:
    """A refused capability reads 'the <store> store cannot <task>[: hint]' and is a usage error."""
    plain = CapabilityError("supabase", "rotate the secret key")
    assert str(plain) == "the supabase store cannot rotate the secret key"
    hinted = CapabilityError("null", "read runs", "drop --no-store")
    assert str(hinted) == "the null store cannot read runs: drop --no-store"
    assert (hinted.store, hinted.capability, hinted.exit_code) == ("null", "read runs", EXIT_USAGE)
    assert EmbeddedServerError("x").exit_code == DatabaseError("x").exit_code == EXIT_DATABASE


def test_cause_chain_joins_distinct_causes_on_one_line() -> None:
    """Explicit causes and implicit contexts are joined; repeats and extra lines are dropped."""
    try:
        try:
            try:
                raise OSError("connection refused\nsecond line")
            except OSError as low:
                raise RuntimeError("connection refused") from low
        except RuntimeError:
            raise ValueError("") from None
    except ValueError as top:
        suppressed = top
    assert cause_chain(suppressed) == "ValueError"
    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise RuntimeError("lookup failed")  # noqa: B904 (the implicit context is the point)
    except RuntimeError as exc:
        implicit = exc
    assert cause_chain(implicit) == "lookup failed: 'k'"
    outer = RuntimeError("store: connection refused")
    outer.__cause__ = OSError("connection refused")
    assert cause_chain(outer) == "store: connection refused"


def test_cause_chain_stops_on_a_cycle() -> None:
    """An exception chain that loops back on itself ends instead of running forever."""
    first, second = RuntimeError("first"), RuntimeError("second")
    first.__cause__, second.__cause__ = second, first
    assert cause_chain(first) == "first: second"
