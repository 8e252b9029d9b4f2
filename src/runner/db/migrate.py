"""Applies ``sql/migrations`` in order, recording version and checksum.

All pending files are applied in one transaction under an advisory lock, so a file
that fails half-way leaves the database exactly as it was, and two migrators never
interleave. An applied file whose content changed is refused by name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.db.connect import Target, connect, describe
from runner.db.sqlfiles import bootstrap_file, migration_files, query
from runner.errors import MigrationError

# Arbitrary constant: the advisory lock key all migrators agree on.
_LOCK_KEY = 7_461_226_009


@dataclass(frozen=True)
class MigrationFile:
    """One ordered migration file."""

    version: str
    name: str
    path: Path
    checksum: str

    @classmethod
    def read(cls, path: Path) -> MigrationFile:
        """Version and checksum from the file name and bytes."""
        version, _, name = path.stem.partition("_")
        return cls(version, name, path, hashlib.sha256(path.read_bytes()).hexdigest())


@dataclass
class MigrationReport:
    """What ``migrate`` did."""

    bootstrapped: bool = False
    applied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


def available() -> list[MigrationFile]:
    """Migration files shipped with this version, in order."""
    return [MigrationFile.read(p) for p in migration_files()]


def _line_of(text: str, exc: Any) -> int | None:
    position = getattr(getattr(exc, "diag", None), "statement_position", None)
    if not position:
        return None
    return text[: int(position)].count("\n") + 1


async def migrate(target: Target, files: list[MigrationFile] | None = None) -> MigrationReport:
    """Bootstrap (only where ``auth`` is absent) and apply pending migrations."""
    import psycopg

    files = available() if files is None else files
    report = MigrationReport()
    conn = await connect(target)
    try:
        async with conn.transaction():
            await conn.execute(query("migrate_lock"), {"key": _LOCK_KEY})
            await conn.execute(query("migrate_meta"))
            row = await (await conn.execute(query("migrate_has_auth"))).fetchone()
            if row is not None and not row[0]:
                text = bootstrap_file().read_text(encoding="utf-8")
                await _apply(conn, text, "bootstrap/supabase_compat.sql")
                report.bootstrapped = True
            cur = await conn.execute(query("migrate_applied"))
            applied = {v: c for v, c in await cur.fetchall()}
            for mf in files:
                label = mf.path.name
                if mf.version in applied:
                    if applied[mf.version] != mf.checksum:
                        raise MigrationError(
                            f"migration {label} was changed after it was applied "
                            "(checksum differs); add a new migration instead of editing it"
                        )
                    report.already.append(label)
                    continue
                await _apply(conn, mf.path.read_text(encoding="utf-8"), label)
                await conn.execute(
                    query("migrate_record"),
                    {"version": mf.version, "name": mf.name, "checksum": mf.checksum},
                )
                report.applied.append(label)
    except psycopg.Error as exc:
        raise MigrationError(f"migration failed: {describe(exc)}") from None
    finally:
        await conn.close()
    return report


async def _apply(conn: Any, text: str, label: str) -> None:
    import psycopg

    try:
        # no parameters: psycopg sends the file as one simple query (many statements)
        await conn.execute(text)
    except psycopg.Error as exc:
        line = _line_of(text, exc)
        where = f"{label}:{line}" if line else label
        raise MigrationError(
            f"migration {where} failed: {describe(exc)}; nothing was applied"
        ) from None


async def pending(target: Target) -> list[str]:
    """Names of migration files not yet applied."""
    import psycopg

    conn = await connect(target, autocommit=True)
    try:
        try:
            cur = await conn.execute(query("migrate_applied"))
            done = {r[0] for r in await cur.fetchall()}
        except psycopg.errors.UndefinedTable:
            done = set()
        except psycopg.Error as exc:
            raise MigrationError(describe(exc)) from None
    finally:
        await conn.close()
    return [mf.path.name for mf in available() if mf.version not in done]
