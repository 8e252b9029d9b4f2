"""``python -m runner context cleanup``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``context`` command group."""
    cmd = sub.add_parser("context", help="execution contexts of runs")
    actions = cmd.add_subparsers(dest="context_command", metavar="ACTION", parser_class=type(cmd))
    actions.required = True
    cleanup = actions.add_parser("cleanup", help="delete expired execution contexts")
    cleanup.add_argument(
        "--older-than",
        type=float,
        default=None,
        metavar="HOURS",
        help="also delete contexts created more than HOURS ago",
    )
    cleanup.set_defaults(func=_cleanup)


async def _cleanup(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from runner.context.manager import TestExecutionContextManager
    from runner.errors import ConfigError
    from runner.settings import Settings

    try:
        settings = Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
    if args.older_than is not None and args.older_than < 0:
        raise ConfigError("--older-than must be a number of hours >= 0")
    ttl = None if args.older_than is None else timedelta(hours=args.older_than)
    async with TestExecutionContextManager(settings) as manager:
        count = await manager.cleanup_expired_contexts(ttl)
    print(f"deleted {count} execution context{'s' if count != 1 else ''}")
    return 0
