"""Shared fixtures: a real embedded PostgreSQL, and a fresh database per test.

The server lives in ``.runner/test-pg`` (kept between sessions, so only the first
session pays for initdb). A template database is migrated once per distinct set of
SQL files; each test gets its own clone of it (``CREATE DATABASE ... TEMPLATE``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from runner.db.connect import Target
from runner.db.embedded import EmbeddedServer
from runner.db.migrate import migrate
from runner.db.sqlfiles import bootstrap_file, migration_files
from support import free_port

pytest_plugins = ["pytester"]  # tests of runner.pytest_plugin drive pytest itself

ROOT = Path(__file__).resolve().parents[1]
TEST_PORT = int(os.environ.get("RUNNER_TEST_PG_PORT", "54339"))


@pytest.fixture(scope="session")
def pg_server() -> EmbeddedServer:
    """The embedded PostgreSQL the tests run against (started once, left running)."""
    data_dir = ROOT / ".runner" / "test-pg"
    server = EmbeddedServer(data_dir, TEST_PORT)
    already = server.running_port()
    if already is not None:
        server = EmbeddedServer(data_dir, already)
    elif _port_taken(TEST_PORT):
        # another checkout's test server (or anything else) holds the port: use a free one
        server = EmbeddedServer(data_dir, free_port())
    server.start()
    return server


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _sql_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [bootstrap_file(), *migration_files()]:
        if path.exists():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="session")
def template_db(pg_server: EmbeddedServer) -> str:
    """Name of a database with the bootstrap and every migration applied."""
    name = f"runner_tpl_{_sql_fingerprint()}"
    admin = pg_server.url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        # serialise template creation across concurrent test sessions
        conn.execute("select pg_advisory_lock(424242)")
        try:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (name,)
            ).fetchone()
            if not exists:
                stale = conn.execute(
                    "select datname from pg_database where datname like 'runner_tpl_%%'"
                ).fetchall()
                for (old,) in stale:
                    conn.execute(f'drop database if exists "{old}" with (force)')
                building = f"{name}_building"
                conn.execute(f'drop database if exists "{building}" with (force)')
                conn.execute(f'create database "{building}"')
                asyncio.run(migrate(Target(pg_server.url(building), embedded=True)))
                conn.execute(f'alter database "{building}" rename to "{name}"')
        finally:
            conn.execute("select pg_advisory_unlock(424242)")
    return name


def _fresh_database(server: EmbeddedServer, template: str | None) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = server.url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        clause = f' template "{template}"' if template else ""
        conn.execute(f'create database "{name}"{clause}')
    try:
        yield server.url(name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def migrated_db(pg_server: EmbeddedServer, template_db: str) -> Iterator[str]:
    """URL (superuser) of a fresh database with the bootstrap and all migrations."""
    yield from _fresh_database(pg_server, template_db)


@pytest.fixture
def bare_db(pg_server: EmbeddedServer) -> Iterator[str]:
    """URL (superuser) of a fresh, empty database."""
    yield from _fresh_database(pg_server, None)
