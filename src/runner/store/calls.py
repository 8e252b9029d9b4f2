"""What both stores send: queued writes turned into calls of our SQL functions.

The direct path executes ``select public.<function>(...)`` and the Supabase path
calls the same function over RPC; what is called, with which arguments and in which
order is decided here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from runner.models import TestResult
from runner.secrets.redact import REDACTED
from runner.store.writer import FINISH, Op

Call = tuple[str, dict[str, Any]]
"""(function name in schema public, named arguments)."""

Hide = Callable[[Any, bool], Any]
"""Seal or redact a secret: (value, as_object) -> what is stored instead."""


def result_row(result: TestResult, case_ids: dict[str, str]) -> dict[str, Any]:
    """A result in the shape ``public.record_results`` takes."""
    return {
        "test_case_id": case_ids.get(result.test_id),
        "test_key": result.key,
        "name": result.name,
        "row_index": result.row_index,
        "status": result.status.value,
        "error_category": result.error_category.value if result.error_category else None,
        "message": result.message,
        "started_at": result.started_at.isoformat() if result.started_at else None,
        "finished_at": result.finished_at.isoformat() if result.finished_at else None,
        "response_time_ms": result.duration_ms,
        "status_code": result.status_code,
        "passed_after_retry": result.passed_after_retry,
        "request": result.request.model_dump(mode="json") if result.request else None,
        "response": result.response.model_dump(mode="json") if result.response else None,
        "captured": result.captured,
        "checks": [c.model_dump(mode="json") for c in result.checks],
        "attempts": [a.model_dump(mode="json") for a in result.attempts],
    }


def redact_only(value: Any, as_object: bool) -> Any:
    """Without a cipher secrets are stored as ``[REDACTED]``."""
    return REDACTED


def context_ops(
    test_id: str,
    captured: dict[str, Any],
    tokens: dict[str, str],
    variables: dict[str, Any],
    secret_keys: frozenset[str],
    hide: Hide,
) -> list[Op]:
    """The writes a context change queues; tokens and secret captures never in plaintext.

    A capture published as a token is a secret even without ``secret: true``, and a
    published variable whose value is one of those secrets is hidden the same way.
    """
    ops: list[Op] = []
    secrets: list[Any] = list(tokens.values())
    secrets.extend(v for k, v in captured.items() if k in secret_keys)
    if captured:
        shown = {
            k: (hide(v, True) if k in secret_keys or v in secrets else v)
            for k, v in captured.items()
        }
        ops.append(("capture", [test_id, shown]))
    for name, token in tokens.items():
        ops.append(("token", [name, hide(token, False)]))
    if variables:
        if secrets:
            variables = {k: (hide(v, True) if v in secrets else v) for k, v in variables.items()}
        ops.append(("variables", variables))
    return ops


def batch_calls(run_id: str, batch: Sequence[Op]) -> list[Call]:
    """The function calls that write one batch, in the order they must run.

    Tests started come first (their events precede the results of the same batch),
    then every capture of the batch in one merge (each merge rewrites the whole
    captured data, so one call per capture made a run's merges quadratic), then
    tokens and variables in queue order, then all results in one call, and the run's
    finish last (the writer gives it a batch of its own, after every other write).
    """
    started = [payload for kind, payload in batch if kind == "started"]
    results = [payload for kind, payload in batch if kind == "result"]
    captures: dict[str, dict[str, Any]] = {}
    for kind, payload in batch:
        if kind == "capture":
            captures.setdefault(payload[0], {}).update(payload[1])
    calls: list[Call] = []
    if started:
        calls.append(("tests_started", {"p_run_id": run_id, "p_test_keys": started}))
    if captures:
        calls.append(("merge_captured_data_many", {"p_run_id": run_id, "p_data": captures}))
    for kind, payload in batch:
        if kind == "token":
            calls.append(
                (
                    "set_shared_auth_token",
                    {"p_run_id": run_id, "p_name": payload[0], "p_token": payload[1]},
                )
            )
        elif kind == "variables":
            calls.append(("set_shared_variables", {"p_run_id": run_id, "p_vars": payload}))
    if results:
        calls.append(("record_results", {"p_run_id": run_id, "p_results": results}))
    calls.extend(
        ("finish_run", {"p_run_id": run_id, "p_status": payload})
        for kind, payload in batch
        if kind == FINISH
    )
    return calls
