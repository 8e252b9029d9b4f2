"""``python -m runner watch RUN_ID``: follow a run live over Supabase Realtime."""

from __future__ import annotations

import argparse
import uuid
from typing import Any


def register(sub: Any) -> None:
    """Add the ``watch`` command."""
    cmd = sub.add_parser(
        "watch",
        help="follow a run live over Realtime (progress, results, context keys)",
        description=(
            "Subscribe to the run's private Realtime topic and show it live until it "
            "completes. Uses SUPABASE_URL and SUPABASE_KEY (a hosted project, or the "
            "values `python -m runner serve` writes to <data dir>/serve.env)."
        ),
    )
    cmd.add_argument("run_id", metavar="RUN_ID", help="the run's id (run-suite prints it)")
    cmd.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="give up after SECONDS"
    )
    cmd.set_defaults(func=_watch)


async def _watch(args: argparse.Namespace) -> int:
    from runner.cli.watch import connection_from_settings, watch_run
    from runner.errors import EXIT_OK, EXIT_TESTS_FAILED, ConfigError
    from runner.settings import Settings

    try:
        run_id = str(uuid.UUID(args.run_id))
    except ValueError:
        raise ConfigError(f"RUN_ID must be a UUID, got {args.run_id!r}") from None
    try:
        settings = Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
    import asyncio

    try:
        async with asyncio.timeout(args.timeout):
            view = await watch_run(connection_from_settings(settings), run_id, emit=_print)
    except TimeoutError:
        raise ConfigError(f"run {run_id} did not complete within {args.timeout} s") from None
    return EXIT_OK if view.status == "passed" else EXIT_TESTS_FAILED


def _print(line: str) -> None:
    print(line, flush=True)
