"""``python -m runner db start|stop|status|migrate|replay|reset``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``db`` command group."""
    db = sub.add_parser("db", help="manage the database (embedded by default)")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=type(db))
    actions.required = True
    for name, help_text in (
        ("start", "start the embedded PostgreSQL (reused if already running)"),
        ("stop", "stop the embedded PostgreSQL"),
        ("status", "show the database and its migrations (and replay spilled results)"),
        ("migrate", "apply pending migrations"),
        ("replay", "write the results runs kept in the spill folder during a database outage"),
    ):
        p = actions.add_parser(name, help=help_text)
        p.set_defaults(func=_dispatch, action=name)
    reset = actions.add_parser("reset", help="drop everything and re-apply the migrations")
    reset.add_argument(
        "--force", action="store_true", help="required when the database is not the embedded one"
    )
    reset.set_defaults(func=_dispatch, action="reset")


async def _dispatch(args: argparse.Namespace) -> int:
    from runner.db import connect as database
    from runner.db import migrate
    from runner.errors import ConfigError
    from runner.settings import Settings

    try:
        settings = Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
    action: str = args.action
    if action == "stop":
        if not settings.uses_embedded:
            print("a database URL is configured; nothing embedded to stop")
            return 0
        stopped = database.embedded_server(settings).stop()
        print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
        return 0
    if action == "start":
        if not settings.uses_embedded:
            raise ConfigError(
                "a database URL is configured (RUNNER_DATABASE_URL); db start only "
                "manages the embedded server"
            )
        status = database.embedded_server(settings).start()
        print(status.describe())
        return 0
    if action == "status":
        return await _status(settings)
    if action == "replay":
        return await _replay(settings)
    target = database.resolve_target(settings)
    if action == "reset":
        await _reset(settings, target, force=args.force)
    report = await migrate.migrate(target)
    if report.bootstrapped:
        print("applied the Supabase compatibility bootstrap (no auth schema was present)")
    for name in report.applied:
        print(f"applied {name}")
    if not report.applied:
        print(f"database is up to date ({len(report.already)} migrations) at {target.display}")
    return 0


async def _status(settings: Any) -> int:
    from runner.db import connect as database
    from runner.db import migrate

    if settings.uses_embedded:
        status = database.embedded_server(settings).status()
        print(status.describe())
        if not status.running:
            return 0
        target = database.Target(status.url, embedded=True)
    else:
        target = database.resolve_target(settings)
        print(f"database {target.display}")
    waiting = await migrate.pending(target)
    total = len(migrate.available())
    print(
        f"migrations: {total - len(waiting)} applied, {len(waiting)} pending"
        + (f" ({', '.join(waiting)})" if waiting else "")
    )
    # the database is reachable: write what runs kept during an outage
    from runner.store.factory import replay_spilled

    for line in (await replay_spilled(settings)).lines():
        print(line)
    return 0


async def _replay(settings: Any) -> int:
    """``db replay``: exit 3 while anything is left in the spill folder."""
    from runner.errors import EXIT_DATABASE
    from runner.store.factory import replay_spilled

    report = await replay_spilled(settings)
    lines = report.lines()
    for line in lines:
        print(line)
    if not lines:
        print(f"nothing to replay in {settings.data_dir / 'spill'}")
    return EXIT_DATABASE if report.left else 0


async def _reset(settings: Any, target: Any, *, force: bool) -> None:
    from runner.db import connect as database
    from runner.db.sqlfiles import query
    from runner.errors import ConfigError

    if not target.embedded and not force:
        raise ConfigError(
            f"refusing to reset {target.display}: it is not the embedded database (use --force)"
        )
    conn = await database.connect(target, autocommit=True)
    try:
        await conn.execute(query("reset"))
    finally:
        await conn.close()
    print(f"dropped the runner's schemas at {target.display}")
