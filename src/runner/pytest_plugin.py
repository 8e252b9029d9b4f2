"""A pytest plugin: record a pytest session as one run, and share its context.

Installed with the package (entry point ``pytest11``) and inert unless asked:

    pytest --runner-record [--runner-project NAME] [--runner-suite NAME]

With ``--runner-record`` the session becomes a run (trigger ``pytest``) in the
database of the settings (``RUNNER_DATABASE_URL``, else the embedded server), each
test (call phase; a setup error or skip counts too) is recorded as a result keyed by
its node id, and the run is finished as passed or failed at the end. The
``runner_context`` fixture gives the run id and a ``TestExecutionContextManager``
factory for that run, so tests can share tokens and captures exactly like suite
tests (also across ``pytest-xdist`` workers or other processes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from runner.context.manager import TestExecutionContextManager
    from runner.db.connect import Target
    from runner.settings import Settings


@dataclass(frozen=True)
class PytestRun:
    """What the ``runner_context`` fixture gives: the run, and managers for its context."""

    run_id: str
    target: Target
    settings: Settings

    def manager(self) -> TestExecutionContextManager:
        """A new (unconnected) context manager on the run's database; ``async with`` it."""
        from runner.context.manager import TestExecutionContextManager
        from runner.secrets.crypto import box_from_settings

        return TestExecutionContextManager(self.target, cipher=box_from_settings(self.settings))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runner", "record the session as a runner run")
    group.addoption(
        "--runner-record",
        action="store_true",
        default=False,
        help="record this session as a run (RUNNER_DATABASE_URL, else the embedded server)",
    )
    group.addoption("--runner-project", default=None, help="project of the run (default: pytest)")
    group.addoption("--runner-suite", default="pytest", help="suite name shown on the run")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("runner_record", default=False):
        config.pluginmanager.register(_Recorder(config), "runner-recorder")


class _Recorder:
    """Creates the run at session start, records each test's outcome, finishes the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.run: PytestRun | None = None
        self.failed = False
        self.started: dict[str, datetime] = {}

    # ---------------------------------------------------------------- session

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from runner.db.connect import resolve_target
        from runner.settings import Settings

        settings = Settings()
        target = resolve_target(settings)
        project = self.config.getoption("runner_project") or settings.project or "pytest"
        suite = str(self.config.getoption("runner_suite"))
        run_id = _create_run(target, settings.organization, project, suite)
        self.run = PytestRun(run_id, target, settings)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.run is None:
            return
        failed = self.failed or exitstatus not in (0, 5)
        _execute(
            self.run.target,
            "select public.finish_run(%s, %s)",
            (self.run.run_id, "failed" if failed else "passed"),
        )
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"runner: recorded run {self.run.run_id}")

    # ------------------------------------------------------------------ tests

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.started[nodeid] = datetime.now(UTC)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.run is None:
            return
        status: str | None = None
        if report.when == "call":
            status = "passed" if report.passed else "skipped" if report.skipped else "failed"
        elif report.when == "setup" and not report.passed:
            status = "skipped" if report.skipped else "error"
        if status is None:
            return
        if status in ("failed", "error"):
            self.failed = True
        finished = datetime.now(UTC)
        started = self.started.get(report.nodeid, finished - timedelta(seconds=report.duration))
        message = "" if report.passed else _message(report)
        result = {
            "test_key": report.nodeid[:500],
            "name": report.nodeid[:1000],
            "status": status,
            "error_category": {"failed": "assertion", "error": "internal"}.get(status),
            "message": message,
            "started_at": started.isoformat(),
            "finished_at": finished.isoformat(),
            "response_time_ms": report.duration * 1000,
        }
        _execute(
            self.run.target,
            "select public.record_results(%s, %s::jsonb)",
            (self.run.run_id, json.dumps([result])),
        )


@pytest.fixture
def runner_context(request: pytest.FixtureRequest) -> PytestRun:
    """The recorded run (needs ``--runner-record``): ``run_id`` and ``manager()``."""
    recorder = request.config.pluginmanager.get_plugin("runner-recorder")
    if recorder is None or recorder.run is None:
        pytest.skip("runner_context needs pytest --runner-record")
    run: PytestRun = recorder.run
    return run


def _message(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(crash.message) if crash is not None else str(report.longrepr or "")
    return text.splitlines()[0][:2000] if text else ""


def _execute(target: Target, sql: str, params: tuple[Any, ...]) -> None:
    import psycopg

    from runner.db.connect import connect_kwargs, describe
    from runner.db.identity import SET_IDENTITY, Identity
    from runner.errors import DatabaseError

    identity = Identity.service()
    try:
        with psycopg.connect(target.url, **connect_kwargs()) as conn:
            conn.execute(SET_IDENTITY, (identity.role, json.dumps(identity.claims)))
            conn.execute(sql, params)
    except psycopg.Error as exc:
        raise DatabaseError(f"runner plugin: {describe(exc)}") from None


def _create_run(target: Target, organization: str, project: str, suite: str) -> str:
    import psycopg
    from psycopg.types.json import Jsonb

    from runner.db.connect import connect_kwargs, describe
    from runner.db.identity import SET_IDENTITY, Identity
    from runner.db.sqlfiles import query
    from runner.errors import DatabaseError
    from runner.store.sync import slugify

    identity = Identity.service()
    org_slug = slugify(organization, fallback="local")
    project_slug = slugify(project)
    try:
        with psycopg.connect(target.url, **connect_kwargs()) as conn:
            conn.execute(SET_IDENTITY, (identity.role, json.dumps(identity.claims)))
            conn.execute(query("ensure_organization"), {"name": organization, "slug": org_slug})
            conn.execute(
                query("ensure_project"),
                {"name": project, "slug": project_slug, "org_slug": org_slug},
            )
            row = conn.execute(
                query("find_project"), {"org_slug": org_slug, "slug": project_slug}
            ).fetchone()
            assert row is not None
            row = conn.execute(
                query("create_run"),
                {
                    "project_id": row[0],
                    "suite_id": None,
                    "suite_name": suite,
                    "environment_id": None,
                    "environment_name": None,
                    "trigger": "pytest",
                    "total_tests": 0,
                    "metadata": Jsonb({"pytest": True}),
                },
            ).fetchone()
            assert row is not None
            run_id = str(row[0])
            conn.execute("select public.init_run_context(%s)", (run_id,))
    except psycopg.Error as exc:
        raise DatabaseError(f"runner plugin: cannot create the run: {describe(exc)}") from None
    return run_id
