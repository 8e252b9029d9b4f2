"""``python -m runner quarantine add|remove|list``: tests whose failures do not fail the run.

Goes through the configured store (``RUNNER_STORE``: a database URL, or Supabase by
RPC) as its identity (service role, or a user, who needs the editor role to change a
quarantine). ``RUNNER_PROJECT`` picks the project when a suite name is ambiguous.
"""

from __future__ import annotations

import argparse
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.store.base import Store


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
    async with _store() as store:
        created = await store.add_quarantine(args.suite, args.test, args.reason)
    verb = "quarantined" if created else "updated the quarantine of"
    print(f"{verb} {args.suite}/{args.test}: {args.reason}")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    from runner.errors import ConfigError

    async with _store() as store:
        lifted = await store.remove_quarantine(args.suite, args.test)
    if not lifted:
        raise ConfigError(f"{args.suite}/{args.test} is not quarantined")
    print(f"lifted the quarantine of {args.suite}/{args.test}")
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with _store() as store:
        found = await store.list_quarantines(args.suite)
    if not found:
        print("no quarantined tests")
        return 0
    for q in found:
        by = f" by {q.quarantined_by}" if q.quarantined_by else ""
        since = q.quarantined_at.strftime("%Y-%m-%d %H:%M UTC")
        print(f"{q.project}/{q.suite}/{q.test}  since {since}{by}: {q.reason}")
    return 0


def _store() -> AbstractAsyncContextManager[Store]:
    """The configured store (either kind), acting as the configured identity."""
    from runner.errors import ConfigError
    from runner.settings import Settings
    from runner.store.factory import open_store

    try:
        settings = Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
    return open_store(settings)
