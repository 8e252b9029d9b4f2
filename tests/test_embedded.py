"""The embedded PostgreSQL: start, reuse, stop, status, races and bad environments."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from runner.db.embedded import EmbeddedServer
from runner.errors import EmbeddedServerError
from support import free_port

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(tmp_path / "data", free_port())
    yield srv
    srv.stop()


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_start_reuse_and_stop(server: EmbeddedServer) -> None:
    """Start runs a real server with a runner database; a second start reuses it; stop ends it."""
    first = server.start()
    assert first.running and first.pid
    with psycopg.connect(server.url()) as conn:
        version = conn.execute("show server_version_num").fetchone()
    assert version is not None and int(version[0]) >= 150000
    again = server.start()
    assert again.pid == first.pid
    assert server.stop() is True
    assert not server.status().running
    assert server.stop() is False


def test_two_processes_starting_at_once_get_one_server(server: EmbeddedServer) -> None:
    """Two processes racing to start the same data directory end with one postmaster."""
    code = (
        "import sys; from pathlib import Path; from runner.db.embedded import EmbeddedServer;"
        f"s = EmbeddedServer(Path({str(server.data_dir)!r}), {server.port}); print(s.start().pid)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    pids = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(pids) == 1
    assert pids == {str(server.status().pid)}


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    """A port held by another program gives an error naming the port and the setting."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        srv = EmbeddedServer(tmp_path / "data", port)
        with pytest.raises(EmbeddedServerError, match=rf"port {port} .*RUNNER_EMBEDDED_PORT"):
            srv.start()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another user")
def test_data_directory_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    """A data directory belonging to another user is refused with a message naming it."""
    pgdata = tmp_path / "data" / "pgdata"
    pgdata.mkdir(parents=True)
    os.chown(pgdata, 65534, 65534)
    srv = EmbeddedServer(tmp_path / "data", free_port())
    with pytest.raises(EmbeddedServerError, match="is owned by"):
        srv.start()


def test_cli_db_start_status_stop(tmp_path: Path) -> None:
    """`db start`, `db status`, `db migrate` and `db stop` do what they say through the CLI."""
    env = {"RUNNER_DATA_DIR": str(tmp_path / "cli"), "RUNNER_EMBEDDED_PORT": str(free_port())}
    try:
        started = _cli(["db", "start"], env)
        assert started.returncode == 0, started.stderr
        assert "running" in started.stdout
        migrated = _cli(["db", "migrate"], env)
        assert migrated.returncode == 0, migrated.stderr
        assert "applied" in migrated.stdout
        status = _cli(["db", "status"], env)
        assert "running" in status.stdout
        assert "0 pending" in status.stdout
    finally:
        stopped = _cli(["db", "stop"], env)
    assert stopped.returncode == 0
    assert "stopped" in _cli(["db", "status"], env).stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "malformed connection string"),
        ("postgresql://me:hunter2@127.0.0.1:1/db", "cannot connect"),
    ],
)
def test_bad_database_url_is_one_line_without_password(url: str, expected: str) -> None:
    """A malformed or unreachable database URL: exit 3, one line, no traceback, no password."""
    result = _cli(["db", "migrate"], {"RUNNER_DATABASE_URL": url})
    assert result.returncode == 3
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_changed_port_while_running_is_a_clear_error(server: EmbeddedServer) -> None:
    """Starting a running data directory on another port names the port it really uses."""
    server.start()
    moved = EmbeddedServer(server.data_dir, free_port())
    with pytest.raises(EmbeddedServerError, match=rf"already runs on port {server.port}"):
        moved.start()
