"""RunView: the watcher's state, fed with realtime events and rows read over REST."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli.watch import RunView, connection_from_settings, result_line
from runner.errors import ConfigError
from runner.settings import Settings


@pytest.fixture(autouse=True)
def _no_supabase_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_SERVICE_ROLE_KEY"):
        monkeypatch.delenv(name, raising=False)


def completed(seq: int, key: str, status: str = "passed") -> dict[str, object]:
    kind = {"passed": "test_completed", "skipped": "test_skipped"}.get(status, "test_failed")
    return {"type": kind, "seq": seq, "test_key": key, "status": status, "status_code": 200}


def test_events_in_order_fill_results_and_finish() -> None:
    """started, completed, context and run_completed events build the view; no gap is seen."""
    view = RunView("r1", total=2)
    view.apply("test_started", {"type": "test_started", "seq": 1, "test_key": "login"})
    assert view.running == {"login"}
    lines, gap = view.apply("test_completed", completed(2, "login"))
    assert not gap and lines and "login" in lines[0] and view.running == set()
    lines, _ = view.apply(
        "context_updated", {"type": "context_updated", "seq": 3, "captured_keys": ["token"]}
    )
    assert lines == ["  context  + token"]
    view.apply("test_failed", completed(4, "cart", "failed"))
    view.apply("run_completed", {"type": "run_completed", "seq": 5, "status": "failed"})
    assert view.done and view.counts() == {"passed": 1, "failed": 1}
    assert view.summary() == "run r1 failed: 1 passed, 1 failed, 0 errors, 0 skipped"


def test_a_skipped_seq_asks_for_a_reread() -> None:
    """Seq 1 then 3 reports a gap once; the re-read rows fill in the missed result."""
    view = RunView("r1")
    view.apply("test_completed", completed(1, "a"))
    _, gap = view.apply("test_completed", completed(3, "c"))
    assert gap and view.gaps == 1
    lines = view.load_results([completed(2, "b"), completed(3, "c")])
    assert [line.split()[1] for line in lines] == ["b"]


def test_duplicates_and_already_read_events_are_ignored() -> None:
    """An event whose seq is not newer than the last one changes nothing."""
    view = RunView("r1")
    view.load_run({"status": "running", "total_tests": 3, "event_seq": 5})
    lines, gap = view.apply("test_completed", completed(4, "old"))
    assert (lines, gap) == ([], False) and view.results == {}


def test_result_line_shows_status_code_time_and_category() -> None:
    """A failed result line names the status, key, code, time and error category."""
    line = result_line(
        {
            "test_key": "cart",
            "status": "failed",
            "status_code": 500,
            "response_time_ms": 12.4,
            "error_category": "assertion",
        }
    )
    assert line.split() == ["FAIL", "cart", "500", "12", "ms", "[assertion]"]


def test_connection_falls_back_to_serve_env(tmp_path: Path) -> None:
    """Without SUPABASE_URL/KEY the values serve wrote to the data dir are used."""
    (tmp_path / "serve.env").write_text(
        "SUPABASE_URL=http://127.0.0.1:5\nSUPABASE_SERVICE_ROLE_KEY=svc\n"
    )
    settings = Settings(_env_file=None, RUNNER_DATA_DIR=str(tmp_path))  # type: ignore[call-arg]
    conn = connection_from_settings(settings)
    assert (conn.url, conn.key) == ("http://127.0.0.1:5", "svc")


def test_connection_without_anything_is_a_clear_error(tmp_path: Path) -> None:
    """No URL, no key and no serve.env: a ConfigError saying what is needed."""
    settings = Settings(_env_file=None, RUNNER_DATA_DIR=str(tmp_path))  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="SUPABASE_URL and SUPABASE_KEY"):
        connection_from_settings(settings)
