"""The embedded server's bookkeeping without a running cluster: pid files, stop, bad dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.db.embedded import EmbeddedServer, ServerStatus, _tail
from runner.errors import EmbeddedServerError
from support import free_port

pytestmark = pytest.mark.db


def write_pid_file(server: EmbeddedServer, *lines: str) -> None:
    server.pgdata.mkdir(parents=True, exist_ok=True)
    (server.pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait(30)
    return child.pid


def test_pid_files_that_name_nobody_mean_not_running(tmp_path: Path) -> None:
    """Garbage, empty or a dead process in postmaster.pid: no pid, no port, status stopped."""
    server = EmbeddedServer(tmp_path / "data", free_port())
    assert server.pid() is None and server.running_port() is None
    for lines in (("not-a-pid",), ("",), (str(dead_pid()), "/x", "1", "5432")):
        write_pid_file(server, *lines)
        assert server.pid() is None, lines
        assert server.running_port() is None
    status = server.status()
    assert not status.running and status.pid is None
    assert status.describe() == f"embedded PostgreSQL stopped, data {server.data_dir}"


def test_a_live_pid_with_a_short_pid_file_has_no_port(tmp_path: Path) -> None:
    """A live postmaster pid but no port line: the pid is reported, the port is unknown."""
    server = EmbeddedServer(tmp_path / "data", free_port())
    write_pid_file(server, str(os.getpid()), "/data")
    assert server.pid() == os.getpid()
    assert server.running_port() is None
    write_pid_file(server, str(os.getpid()), "/data", "1700000000", "not-a-port")
    assert server.running_port() is None
    write_pid_file(server, str(os.getpid()), "/data", "1700000000", "6543")
    assert server.running_port() == 6543


def test_stop_and_destroy_without_a_cluster(tmp_path: Path) -> None:
    """stop() is False with no data directory or no postmaster; destroy() removes pgdata."""
    server = EmbeddedServer(tmp_path / "data", free_port())
    assert server.stop() is False
    server.data_dir.mkdir(parents=True)
    server.pgdata.mkdir()
    (server.pgdata / "PG_VERSION").write_text("16\n")
    assert server.stop() is False
    server.destroy()
    assert not server.pgdata.exists()


def test_a_data_dir_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    """A data directory below a regular file cannot be created: the error names it."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    server = EmbeddedServer(blocker / "data", free_port())
    with pytest.raises(EmbeddedServerError, match="cannot create data directory"):
        server.start()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another user")
def test_data_dir_owned_by_an_unknown_uid_names_the_uid(tmp_path: Path) -> None:
    """pgdata owned by a uid without a passwd entry is refused, naming the number."""
    server = EmbeddedServer(tmp_path / "data", free_port())
    server.pgdata.mkdir(parents=True)
    os.chown(server.pgdata, 54321, 54321)
    with pytest.raises(EmbeddedServerError, match="is owned by '54321'"):
        server.start()


def test_a_broken_cluster_fails_to_start_with_the_log_tail(tmp_path: Path) -> None:
    """A pgdata with PG_VERSION but nothing else: pg_ctl fails and the log's tail is shown."""
    server = EmbeddedServer(tmp_path / "data", free_port())
    server.data_dir.mkdir(parents=True)
    owner = server._owner()
    server.pgdata.mkdir(mode=0o700)
    (server.pgdata / "PG_VERSION").write_text("16\n")
    if owner is not None:
        os.chown(server.pgdata, owner.pw_uid, owner.pw_gid)
        os.chown(server.pgdata / "PG_VERSION", owner.pw_uid, owner.pw_gid)
    with pytest.raises(EmbeddedServerError, match="cannot start the embedded PostgreSQL") as err:
        server.start()
    assert "; log: " in str(err.value)
    assert not server.status().running


def test_log_tail_of_missing_empty_and_long_logs(tmp_path: Path) -> None:
    """The tail is the last lines joined by ' | ', or says the log is missing or empty."""
    log = tmp_path / "postgres.log"
    assert _tail(log) == "(no log)"
    log.write_text("")
    assert _tail(log) == "(empty log)"
    log.write_text("a\nb\nc\nd\n")
    assert _tail(log) == "b | c | d"


def test_running_status_describes_pid_and_url(tmp_path: Path) -> None:
    """A running status line names the pid, the URL and the data directory."""
    status = ServerStatus(True, tmp_path, 5, 42, "postgresql://postgres@127.0.0.1:5/runner")
    assert status.describe() == (
        f"embedded PostgreSQL running (pid 42) at postgresql://postgres@127.0.0.1:5/runner, "
        f"data {tmp_path}"
    )
