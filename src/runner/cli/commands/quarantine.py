"""``python -m runner quarantine add|remove|list``: tests whose failures do not fail the run.

Acts as the configured identity (service role, or ``RUNNER_USER_ID`` with
``RUNNER_DATABASE_ROLE=authenticated``, which needs the editor role to change a
quarantine). ``RUNNER_PROJECT`` picks the project when a suite name is ambiguous.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``quarantine`` command group."""
    cmd = sub.add_parser(
        "quarantine", help="quarantined tests: still run and recorded, never fail the run"
    )
    actions = cmd.add_subparsers(
        dest="quarantine_command", metavar="ACTION", parser_class=type(cmd)
    )
    actions.required = True

    add = actions.add_parser("add", help="quarantine a stored test (or change the reason)")
    add.add_argument("suite", help="stored suite name or slug")
    add.add_argument("test", help="test id in the suite")
    add.add_argument("--reason", required=True, help="why (shown in summaries and reports)")
    add.set_defaults(func=_add)

    remove = actions.add_parser("remove", help="lift a test's quarantine")
    remove.add_argument("suite", help="stored suite name or slug")
    remove.add_argument("test", help="test id in the suite")
    remove.set_defaults(func=_remove)

    listing = actions.add_parser("list", help="list quarantined tests")
    listing.add_argument("suite", nargs="?", default=None, help="only this suite (name or slug)")
    listing.set_defaults(func=_list)


async def _add(args: argparse.Namespace) -> int:
    from runner.reporting.analytics.quarantine import add_quarantine, find_case

    async def act(conn: Any, project: str | None) -> bool:
        case_id = await find_case(conn, args.suite, args.test, project)
        return await add_quarantine(conn, case_id, args.reason)

    created = await _in_transaction(act, "quarantine a test")
    verb = "quarantined" if created else "updated the quarantine of"
    print(f"{verb} {args.suite}/{args.test}: {args.reason}")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    from runner.errors import ConfigError
    from runner.reporting.analytics.quarantine import find_case, remove_quarantine

    async def act(conn: Any, project: str | None) -> bool:
        case_id = await find_case(conn, args.suite, args.test, project)
        return await remove_quarantine(conn, case_id)

    if not await _in_transaction(act, "lift a quarantine"):
        raise ConfigError(f"{args.suite}/{args.test} is not quarantined")
    print(f"lifted the quarantine of {args.suite}/{args.test}")
    return 0


async def _list(args: argparse.Namespace) -> int:
    from runner.reporting.analytics.quarantine import list_quarantines

    async def act(conn: Any, project: str | None) -> Any:
        return await list_quarantines(conn, args.suite, project)

    found = await _in_transaction(act, "list quarantined tests")
    if not found:
        print("no quarantined tests")
        return 0
    for q in found:
        by = f" by {q.quarantined_by}" if q.quarantined_by else ""
        since = q.quarantined_at.strftime("%Y-%m-%d %H:%M UTC")
        print(f"{q.project}/{q.suite}/{q.test}  since {since}{by}: {q.reason}")
    return 0


async def _in_transaction(act: Any, doing: str) -> Any:
    """Run ``act(conn, project slug)`` in one transaction as the configured identity."""
    import psycopg

    from runner.db.connect import connect, describe, resolve_target
    from runner.db.identity import apply_identity, identity_from_settings
    from runner.db.migrate import migrate
    from runner.errors import ConfigError, DatabaseError
    from runner.settings import Settings
    from runner.store.sync import slugify

    try:
        settings = Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
    identity = identity_from_settings(settings)
    project = slugify(settings.project) if settings.project else None
    target = resolve_target(settings)
    await migrate(target)
    conn = await connect(target)
    try:
        async with conn.transaction():
            await apply_identity(conn, identity)
            return await act(conn, project)
    except psycopg.Error as exc:
        hint = ""
        if exc.sqlstate == "42501":
            hint = " (changing a quarantine needs the editor role or above)"
        raise DatabaseError(f"cannot {doing}: {describe(exc)}{hint}") from None
    finally:
        await conn.close()
