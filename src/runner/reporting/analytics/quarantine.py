"""Quarantined tests: they still run and are recorded, but their failures do not fail the run.

A quarantine belongs to a stored test case (``public.test_quarantines``). The store
reads a suite's quarantined test ids when a run starts (``quarantined_in_suite``)
and the engine leaves their failures out of the run's status and exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from runner.db.sqlfiles import query
from runner.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Quarantine:
    """One quarantined test as ``quarantine list`` shows it."""

    project: str
    suite: str
    test: str
    reason: str
    quarantined_at: datetime
    quarantined_by: str | None
    """E-mail of who quarantined it (None for the service role)."""


async def quarantined_in_suite(conn: psycopg.AsyncConnection[Any], suite_id: str) -> frozenset[str]:
    """Test ids of the suite's quarantined test cases."""
    cur = await conn.execute(query("quarantined_in_suite"), {"suite_id": suite_id})
    return frozenset(str(r[0]) for r in await cur.fetchall())


async def find_case(
    conn: psycopg.AsyncConnection[Any], suite: str, test: str, project: str | None
) -> str:
    """The id of test ``test`` of stored suite ``suite``; ``ConfigError`` if none or ambiguous."""
    cur = await conn.execute(
        query("quarantine_find_case"), {"suite": suite, "test": test, "project": project}
    )
    found = await cur.fetchall()
    if not found:
        raise ConfigError(
            f"no stored test {test!r} in suite {suite!r} (run the suite once to store it)"
        )
    if len(found) > 1:
        where = ", ".join(sorted(str(r[3]) for r in found))
        raise ConfigError(
            f"suite {suite!r} with test {test!r} is stored in several projects ({where}); "
            "set RUNNER_PROJECT to choose one"
        )
    return str(found[0][0])


async def add_quarantine(conn: psycopg.AsyncConnection[Any], case_id: str, reason: str) -> bool:
    """Quarantine a test case (or change its reason); True when newly quarantined."""
    if not reason.strip():
        raise ConfigError("a quarantine needs a reason (--reason)")
    cur = await conn.execute(query("quarantine_add"), {"test_case_id": case_id, "reason": reason})
    row = await cur.fetchone()
    return bool(row and row[0])


async def remove_quarantine(conn: psycopg.AsyncConnection[Any], case_id: str) -> bool:
    """Lift a test case's quarantine; False when it was not quarantined."""
    cur = await conn.execute(query("quarantine_remove"), {"test_case_id": case_id})
    return await cur.fetchone() is not None


async def list_quarantines(
    conn: psycopg.AsyncConnection[Any], suite: str | None = None, project: str | None = None
) -> list[Quarantine]:
    """Quarantined tests the caller can see, optionally of one suite and project."""
    cur = await conn.execute(query("quarantine_list"), {"suite": suite, "project": project})
    return [
        Quarantine(
            project=r[0],
            suite=r[1],
            test=r[2],
            reason=r[3],
            quarantined_at=r[4],
            quarantined_by=r[5],
        )
        for r in await cur.fetchall()
    ]
