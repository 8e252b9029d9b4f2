"""``python -m runner run-suite PATH|NAME``: run a suite, record it, report it.

Exit codes: 0 all passed, 1 a test failed or errored, 2 the suite or a setting is
wrong (nothing ran), 3 database (also: results obtained but not all in the database
at exit), 4 service, 130 interrupted (Ctrl-C or SIGTERM).
Only argparse is imported at start-up; everything else inside ``_run``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.models import RunResult
    from runner.settings import Settings
    from runner.suite.load import LoadedSuite


def register(sub: Any) -> None:
    """Add the ``run-suite`` command."""
    p = sub.add_parser(
        "run-suite",
        help="run a suite file (or a stored suite by name)",
        description="Run a suite of dependent API tests and record the run.",
    )
    p.add_argument("suite", metavar="PATH|NAME", help="suite file (YAML/JSON) or stored name")
    p.add_argument("--env", help="environment to target (default: the suite's default)")
    p.add_argument("--concurrency", type=_positive, help="tests in flight at once")
    p.add_argument("--bail", action="store_true", help="stop scheduling after the first failure")
    p.add_argument("--tag", action="append", default=[], help="run tests with this tag (repeat)")
    p.add_argument("--test", action="append", default=[], help="run this test id (repeat)")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    p.add_argument("--json", metavar="FILE", help="write the full result as JSON")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--markdown", metavar="FILE", help="write a Markdown summary (CI job summary)")
    p.add_argument("--no-store", action="store_true", help="record nothing in the database")
    p.add_argument(
        "--suite-id",
        metavar="ID",
        help="record as the suite with this id (as `id:` in the file): share its history",
    )
    p.add_argument(
        "--watch",
        action="store_true",
        help="show the run live as Realtime delivers it (needs SUPABASE_URL/KEY or serve)",
    )
    p.add_argument("--base-url", help="override the base URL of the suite and environment")
    p.add_argument(
        "--var", action="append", default=[], metavar="KEY=VALUE", help="set env.KEY (repeat)"
    )
    p.add_argument("--seed", type=int, help="seed of the template helpers and retry jitter")
    p.add_argument("--service-cmd", metavar="CMD", help="start this command before the run")
    p.add_argument("--service-url", metavar="URL", help="wait until the service answers here")
    p.add_argument(
        "--service-timeout", type=float, default=30.0, metavar="S", help="seconds to wait"
    )
    p.set_defaults(func=_run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _variables(pairs: list[str]) -> dict[str, str]:
    from runner.errors import ConfigError

    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--var expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def _is_name(text: str) -> bool:
    """A stored suite name: no path separator, no file suffix, and no such file."""
    from pathlib import Path

    path = Path(text)
    return not path.exists() and "/" not in text and "\\" not in text and not path.suffix


async def _load(settings: Settings, target: str) -> LoadedSuite:
    if _is_name(target):
        # a stored suite is read from the configured store, even for --no-store
        from runner.store.factory import open_store

        async with open_store(settings) as store:
            return await store.load_suite(target)
    from runner.suite.load import load_suite

    return load_suite(target, max_bytes=settings.max_suite_bytes)


def _with_suite_id(loaded: LoadedSuite, suite_id: str | None) -> LoadedSuite:
    """The suite with ``--suite-id`` as its ``id`` (validated like ``id:`` in a file)."""
    if suite_id is None:
        return loaded
    import dataclasses
    import re

    from runner.errors import ConfigError
    from runner.models.suite import SUITE_ID_PATTERN

    if not re.fullmatch(SUITE_ID_PATTERN, suite_id):
        raise ConfigError(
            f"--suite-id {suite_id!r}: use lowercase letters, digits, - and _ (at most 63)"
        )
    return dataclasses.replace(loaded, suite=loaded.suite.model_copy(update={"id": suite_id}))


async def _run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from runner.cli.signals import sigterm_cancels_task
    from runner.cli.tuning import frozen_after, tuned_for_a_run
    from runner.errors import EXIT_DATABASE, EXIT_INTERRUPTED, EXIT_OK, EXIT_TESTS_FAILED

    settings = _settings()
    if settings.log_level:  # RUNNER_LOG_LEVEL: records to stderr, secrets redacted
        from runner.execute.logsafe import configure_logging

        configure_logging(settings.log_level)
    run = _Run(args, settings)
    try:
        with sigterm_cancels_task() as termination, tuned_for_a_run():
            try:
                with frozen_after():
                    run.loaded = _with_suite_id(await _load(settings, args.suite), args.suite_id)
                await run.execute()
            except asyncio.CancelledError:
                run.cancel_watch()
                if run.partial:
                    _write_reports(args, run.partial[-1], run.loaded)
                if not termination.terminated:
                    raise  # Ctrl-C: asyncio.run turns this into KeyboardInterrupt for cli.main
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
                print("interrupted", file=sys.stderr)
                return EXIT_INTERRUPTED
    finally:
        run.cancel_watch()
    result = run.result
    assert result is not None
    from runner.reporting.files import print_summary

    print_summary(result, sys.stdout, tty=run.tty)
    if run.analysis is not None:
        from runner.reporting.analytics import print_analysis

        print_analysis(run.analysis, sys.stdout)
    _write_reports(args, result, run.loaded, run.analysis)
    if run.unrecorded:  # never 0 (nor 1) while results are missing from the database
        print(f"error: {_unrecorded_line(run.unrecorded, result)}", file=sys.stderr)
        return EXIT_DATABASE
    return EXIT_OK if result.ok else EXIT_TESTS_FAILED


def _unrecorded_line(missing: Any, result: RunResult) -> str:
    """How many results the database lacks, and where they are kept."""
    others = missing.operations - missing.results
    extra = f" (and {others} other writes, the run's finish among them)" if others else ""
    return (
        f"{missing.results} of {len(result.results)} results are not in the database{extra}: "
        f"kept in {missing.spill_file}; the next command that opens the store writes them "
        "(or `python -m runner db replay`)"
    )


def _settings() -> Settings:
    from runner.errors import ConfigError
    from runner.settings import Settings

    try:
        return Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None


def _services(args: argparse.Namespace) -> list[Any]:
    """``--service-cmd``/``--service-url``: one more process to start before the run."""
    from runner.errors import ConfigError
    from runner.models import Service

    if args.service_url and not args.service_cmd:
        raise ConfigError("--service-url needs --service-cmd")
    if not args.service_cmd:
        return []
    return [
        Service(
            name="cli-service",
            command=args.service_cmd,
            url=args.service_url,
            timeout=args.service_timeout,
        )
    ]


class _Run:
    """One ``run-suite``: its inputs checked up front, then the run with store and progress."""

    def __init__(self, args: argparse.Namespace, settings: Settings) -> None:
        import sys

        from runner.api import new_seed
        from runner.errors import ConfigError

        self.args = args
        self.settings = settings
        self.variables = _variables(args.var)
        self.services = _services(args)
        self.watching: Any = None
        if args.watch:
            if args.no_store:
                raise ConfigError("--watch needs a recorded run: drop --no-store")
            from runner.cli.watch import connection_from_settings

            self.watching = connection_from_settings(settings)  # a missing URL/key fails first
        self.watcher: list[Any] = []
        self.seed = new_seed() if args.seed is None else args.seed
        self.tty = sys.stdout.isatty()
        self.partial: list[RunResult] = []
        self.loaded: Any = None
        self.result: RunResult | None = None
        self.analysis: Any = None
        self.unrecorded: Any = None
        """What the store could not write (``Store.unrecorded``), asked after the run."""
        _prepare_outputs(args)  # a report that cannot be written fails before any request

    async def execute(self) -> None:
        """Open the store and progress display, run, and read the run's analysis."""
        import contextlib
        import sys

        from runner.api import run_suite
        from runner.cli.progress import Progress
        from runner.store.base import NullStore, Store

        args = self.args
        async with contextlib.AsyncExitStack() as stack:
            store: Store
            if args.no_store:
                store = NullStore()
            else:
                from runner.store.factory import open_store

                store = await stack.enter_async_context(open_store(self.settings))
            progress = stack.enter_context(Progress(sys.stdout, tty=self.tty))
            self.result = await run_suite(
                self.loaded,
                env=args.env,
                concurrency=args.concurrency,
                store=store,
                bail=args.bail,
                tags=args.tag,
                tests=args.test,
                variables=self.variables,
                base_url=args.base_url,
                seed=self.seed,
                settings=self.settings,
                extra_services=self.services,
                on_event=lambda event: self.on_event(event, store, progress),
                trigger="cli",
            )
            self.unrecorded = store.unrecorded()
            if self.watcher:
                await _finish_watch(self.watcher[0])
            # recorded (and finished): regressions etc. of the run
            if self.result.run_id is not None and not self.unrecorded:
                # (not imported for --no-store: it pulls in psycopg, ~80 ms of start-up)
                from runner.reporting.analytics import analysis_for_store

                self.analysis = await analysis_for_store(store, self.result.run_id)

    def on_event(self, event: Any, store: Any, progress: Any) -> None:
        """Print the start line, start the watcher, feed the progress display."""
        import asyncio

        if event.kind == "run_started":
            # the seed reproduces uuid()/random_*() values and retry jitter
            print(f"running {self.loaded.suite.name} (seed {self.seed})", flush=True)
            run_id = store.run_id
            if self.watching is not None and run_id:
                self.watcher.append(asyncio.create_task(_watch(self.watching, run_id)))
        if self.watching is None:
            progress(event)
        if event.kind == "run_finished" and event.run is not None:
            self.partial.append(event.run)

    def cancel_watch(self) -> None:
        """Stop a watcher still running (the run was interrupted or failed)."""
        for pending in self.watcher:
            if not pending.done():
                pending.cancel()


async def _watch(connection: Any, run_id: str) -> None:
    """``--watch``: follow the run over Realtime, printing as events arrive."""
    from runner.cli.watch import watch_run

    await watch_run(connection, run_id, emit=lambda line: print(line, flush=True))


async def _finish_watch(task: Any) -> None:
    """Let the watcher see ``run_completed``; a watcher problem never fails the run."""
    import asyncio
    import sys

    try:
        async with asyncio.timeout(30):
            await task
    except Exception as exc:  # the run is recorded either way: say so, go on
        task.cancel()
        message = str(exc) or type(exc).__name__
        print(f"warning: --watch stopped: {message}", file=sys.stderr)


_OUTPUTS = ("junit", "json", "html", "markdown")


def _prepare_outputs(args: argparse.Namespace) -> None:
    """Create the report files' folders and check each file can be written.

    A file that does not exist yet is created and removed again; an existing one is
    opened for appending (its content is untouched until the run writes it).
    """
    from pathlib import Path

    from runner.errors import ConfigError

    for option in _OUTPUTS:
        name = getattr(args, option)
        if not name:
            continue
        path = Path(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(f"cannot write --{option} {name}: a parent is not a folder") from None
        except OSError as exc:
            raise ConfigError(f"cannot write --{option} {name}: {exc.strerror}") from None
        try:
            if path.exists():
                with path.open("ab"):
                    pass
            else:
                with path.open("xb"):
                    pass
                path.unlink()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(f"cannot write --{option} {name}: {reason}") from None


def _write_reports(
    args: argparse.Namespace, result: RunResult, loaded: LoadedSuite, analysis: Any = None
) -> None:
    from runner.errors import ConfigError
    from runner.reporting.files import write_json, write_junit

    for path, write in ((args.junit, write_junit), (args.json, write_json)):
        if path:
            try:
                write(result, path)
            except OSError as exc:
                raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    if args.html or args.markdown:
        from runner.reporting.html import write_run_reports

        write_run_reports(
            result, loaded=loaded, html=args.html, markdown=args.markdown, analysis=analysis
        )
