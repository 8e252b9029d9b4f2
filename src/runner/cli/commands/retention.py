"""``python -m runner retention [--dry-run] ...`` and ``retention restore ARCHIVE_PATH``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.retention import RestoreReport, RetentionReport
    from runner.settings import Settings


def register(sub: Any) -> None:
    """Add the ``retention`` command (and its ``restore`` action)."""
    cmd = sub.add_parser(
        "retention",
        help="archive and delete what the retention policy expires (docs/retention.md)",
    )
    cmd.add_argument("--dry-run", action="store_true", help="print what would go; change nothing")
    cmd.add_argument("--project", metavar="NAME", help="only this project (name or slug)")
    cmd.add_argument(
        "--archive-dir",
        type=Path,
        metavar="DIR",
        help="archive into this folder (default: RUNNER_ARCHIVE_BUCKET, else <data dir>/archive)",
    )
    cmd.add_argument(
        "--chunk-size",
        type=int,
        metavar="N",
        help="rows per chunk, one transaction each (default RUNNER_RETENTION_CHUNK_SIZE=5000)",
    )
    cmd.set_defaults(func=_apply)
    actions = cmd.add_subparsers(dest="retention_command", metavar="ACTION", parser_class=type(cmd))
    restore = actions.add_parser("restore", help="bring an archive back into the database")
    restore.add_argument(
        "archive_path",
        metavar="ARCHIVE_PATH",
        help="a batch or chunk folder (or its manifest.json / chunk.json), an archive folder, "
        "or storage://BUCKET/KEY",
    )
    restore.set_defaults(func=_restore)


def _settings() -> Settings:
    from runner.errors import ConfigError
    from runner.settings import Settings

    try:
        return Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None


async def _apply(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from runner import retention
    from runner.db import connect as database
    from runner.db.migrate import migrate
    from runner.errors import ConfigError
    from runner.retention.apply import project_ids
    from runner.retention.config import archive_from_settings

    settings = _settings()
    chunk_size = args.chunk_size if args.chunk_size is not None else settings.retention_chunk_size
    if chunk_size < 1:
        raise ConfigError("--chunk-size must be a whole number >= 1")
    archive = archive_from_settings(settings, args.archive_dir)
    target = database.resolve_target(settings)
    if not args.dry_run:
        await migrate(target)  # like run-suite: the policy tables exist before we read them
    conn = await database.connect(target, autocommit=True)
    try:
        projects = None
        if args.project:
            projects = await project_ids(conn, args.project)
            if not projects:
                raise ConfigError(f"no project named {args.project!r}")
        as_of = datetime.now(UTC)
        try:
            if args.dry_run:
                report = await retention.plan(
                    conn, as_of=as_of, projects=projects, location=archive.location
                )
            else:
                report = await retention.apply(
                    conn, archive, as_of=as_of, projects=projects, chunk_size=chunk_size
                )
        except database_errors() as exc:
            raise _db_error("retention", exc) from None
    finally:
        await conn.close()
        await _close(archive)
    _print_report(report)
    return 0


async def _restore(args: argparse.Namespace) -> int:
    from runner import retention
    from runner.db import connect as database
    from runner.retention.config import archive_from_settings
    from runner.retention.restore import locate_local, storage_key

    settings = _settings()
    path: str = args.archive_path
    archive: Any
    if path.startswith("storage://"):
        bucket, key = storage_key(path)
        archive = archive_from_settings(settings, bucket=bucket)
        entries = [key]
    else:
        archive, entries = locate_local(Path(path))
    target = database.resolve_target(settings)
    conn = await database.connect(target, autocommit=True)
    try:
        try:
            report = await retention.restore(conn, archive, entries)
        except database_errors() as exc:
            raise _db_error("restore", exc) from None
    finally:
        await conn.close()
        await _close(archive)
    _print_restore(report)
    return 0


def database_errors() -> tuple[type[BaseException], ...]:
    """Driver errors, translated once here."""
    import psycopg

    return (psycopg.Error,)


def _db_error(what: str, exc: BaseException) -> Exception:
    from runner.db.connect import describe
    from runner.errors import DatabaseError

    return DatabaseError(f"{what} failed: {describe(exc)}")


async def _close(archive: Any) -> None:
    close = getattr(archive, "aclose", None)
    if close is not None:
        await close()


def _print_report(report: RetentionReport) -> None:
    from runner.retention.phases import PHASES

    when = report.as_of.strftime("%Y-%m-%d %H:%M:%S UTC")
    if report.dry_run:
        print(f"retention dry run as of {when}: nothing was changed; would archive to")
        print(f"  {report.location}")
        if report.resumed:
            print(f"  and finish {report.resumed} interrupted chunk(s) first")
        for phase in PHASES:
            print(f"  {report.would_delete.get(phase.name, 0):>10}  {phase.description}")
        return
    if not any(t.chunks for t in report.phases.values()):
        print(f"retention as of {when}: nothing has expired")
        return
    print(f"retention as of {when}: archived to {report.location}/{report.batch}")
    if report.resumed:
        print(f"  finished {report.resumed} interrupted chunk(s) of an earlier run")
    for phase in PHASES:
        totals = report.phases.get(phase.name)
        deleted = totals.deleted if totals else 0
        chunks = totals.chunks if totals else 0
        print(f"  {deleted:>10}  {phase.description} deleted ({chunks} chunk(s))")


def _print_restore(report: RestoreReport) -> None:
    print(f"restored {report.chunks} chunk(s)")
    for table in sorted(report.inserted):
        skipped = report.not_inserted.get(table, 0)
        extra = f" ({skipped} already present or without their parent)" if skipped else ""
        print(f"  {report.inserted[table]:>10}  {table}{extra}")
