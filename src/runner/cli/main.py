"""The command line. Commands register themselves; only ``main`` exits.

Heavy imports happen inside each command's ``run`` so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from collections.abc import Callable, Coroutine, Sequence
from importlib import import_module
from typing import Any

from runner.errors import EXIT_INTERRUPTED, EXIT_USAGE, RunnerError, cause_chain

# Each module has ``register(subparsers)`` which sets ``func`` (async, returns exit code).
COMMAND_MODULES = (
    "runner.cli.commands.context",
    "runner.cli.commands.db",
    "runner.cli.commands.quarantine",
    "runner.cli.commands.report",
    "runner.cli.commands.retention",
    "runner.cli.commands.run_suite",
    "runner.cli.commands.secrets",
    "runner.cli.commands.serve",
    "runner.cli.commands.watch",
)

CommandFunc = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse would print usage and exit 2; keep exit 2 but one clear line
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every registered command."""
    parser = _Parser(
        prog="python -m runner",
        description="Run dependent API test suites and keep everything in Supabase.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        import_module(name).register(sub)
    return parser


def _skip_httpx_cli() -> None:
    # httpx imports its own command line (click, rich, pygments: ~45 ms, a tenth of
    # run-suite's start-up) whenever those are installed. This process never runs it,
    # and httpx falls back to a stub ``httpx.main`` when that import fails, which a
    # None in sys.modules makes it do at once. Library users' imports are untouched.
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _skip_missing_sniffio() -> None:
    # httpcore runs `import sniffio` several times per request; when it is not
    # installed each attempt searches sys.path again (~50 µs a request). A None in
    # sys.modules makes the same ImportError immediate. Process-wide, so the CLI's.
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one command, turn known errors into one line and an exit code."""
    _skip_httpx_cli()
    _skip_missing_sniffio()
    parser = build_parser()
    args = parser.parse_args(argv)
    func: CommandFunc = args.func
    try:
        return asyncio.run(func(args))
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: one line, never a traceback
        print(f"error: unexpected {type(exc).__name__}: {cause_chain(exc)}", file=sys.stderr)
        return 70
