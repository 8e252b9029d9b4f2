"""RunView and the watcher's helpers on the events and rows the unit tests did not feed."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli.watch import RunView, connection_from_settings, result_line
from runner.settings import Settings


@pytest.fixture(autouse=True)
def _no_supabase_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_SERVICE_ROLE_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_events_without_seq_and_run_started_update_the_view() -> None:
    """Events without a seq still apply; run_started sets the total; unknown types do nothing."""
    view = RunView("r")
    view.apply("run_started", {"total_tests": 3})
    assert view.total == 3 and view.last_seq == 0
    lines, gap = view.apply("test_skipped", {"test_key": "k", "status": "skipped"})
    assert not gap and lines == ["  SKIP  k"] and view.completed == 1
    assert view.apply("mystery", {"type": "mystery", "seq": 7}) == ([], False)
    assert view.last_seq == 7 and not view.done
    view.apply("run_started", {"total_tests": 0})
    assert view.total == 3


def test_started_tests_already_finished_are_not_running_again() -> None:
    """A late test_started for a result already known does not mark it running."""
    view = RunView("r")
    view.load_results([{"test_key": "done", "status": "passed"}])
    view.apply("test_started", {"test_key": "done"})
    view.apply("test_started", {"test_key": 5})
    assert view.running == set()


def test_context_keys_from_every_field_are_announced_once() -> None:
    """Captured, variable and token keys (list or dict) are listed sorted, each only once."""
    view = RunView("r")
    lines, _ = view.apply(
        "context_updated",
        {"variable_keys": {"b": 1}, "token_names": ["a"], "keys": "not-a-list"},
    )
    assert lines == ["  context  + a, b"]
    assert view.apply("context_updated", {"captured_keys": ["a"]}) == ([], False)


def test_run_row_keeps_what_it_does_not_say() -> None:
    """A run row with empty fields or an older event_seq leaves the known values alone."""
    view = RunView("r", total=4, last_seq=9, suite_name="s")
    view.load_run({"total_tests": None, "status": None, "suite_name": None, "event_seq": 3})
    assert (view.total, view.status, view.suite_name, view.last_seq) == (4, "running", "s", 9)
    view.load_run({"status": "failed", "event_seq": 12})
    assert view.done and view.last_seq == 12


def test_result_line_without_code_or_time_and_unknown_status() -> None:
    """No status code or time: just mark and key; an unknown status shows its first letters."""
    assert result_line({"test_key": "k", "status": "passed"}).split() == ["PASS", "k"]
    line = result_line({"test_key": "k", "status": "timeout", "error_category": "network"})
    assert line.split() == ["TIME", "k", "[network]"]
    passed = result_line({"test_key": "k", "status": "passed", "error_category": "x"})
    assert "[x]" not in passed


def test_serve_env_comments_and_odd_lines_are_skipped(tmp_path: Path) -> None:
    """Comment lines and lines without '=' in serve.env are ignored; values are stripped."""
    (tmp_path / "serve.env").write_text(
        "# SUPABASE_URL=http://commented\nnonsense\nSUPABASE_URL= http://127.0.0.1:7 \n"
        "SUPABASE_SERVICE_ROLE_KEY=svc\n"
    )
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        RUNNER_DATA_DIR=str(tmp_path),
        RUNNER_SUPABASE_EMAIL="a@example.com",
        RUNNER_SUPABASE_PASSWORD="pw",
    )
    conn = connection_from_settings(settings)
    assert (conn.url, conn.key, conn.email, conn.password) == (
        "http://127.0.0.1:7",
        "svc",
        "a@example.com",
        "pw",
    )
