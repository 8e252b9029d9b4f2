"""A pytest plugin: record a pytest session as one run, and share its context.

Installed with the package (entry point ``pytest11``) and inert unless asked:

    pytest --runner-record [--runner-project NAME] [--runner-suite NAME]

With ``--runner-record`` the session is recorded exactly as ``run-suite`` records a
suite: through the store of the settings (``runner.store.factory.open_store``, which
migrates the database and acts as ``RUNNER_DATABASE_ROLE``), with a suite made of the
collected tests, one result per test keyed by its node id, batched writes, redacted
secrets and the run's Realtime events. The ``runner_context`` fixture gives the run
id, ``publish()`` to share values through the store, and ``manager()`` for a
``TestExecutionContextManager`` on the run's database.

The plugin never raises inside a pytest hook: a recording failure is kept and
reported once, in the terminal summary (see ``docs/pytest.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from runner.pytest_plugin._recorder import Recorder
from runner.pytest_plugin._results import stable_ids

if TYPE_CHECKING:
    from runner.context.manager import TestExecutionContextManager
    from runner.db.connect import Target
    from runner.settings import Settings

__all__ = ["PytestRun", "runner_context"]

RECORDER = "runner-recorder"
"""Name the recorder is registered under (``config.pluginmanager.get_plugin``)."""


@dataclass(frozen=True)
class PytestRun:
    """What the ``runner_context`` fixture gives: the run, seen from one test."""

    run_id: str
    settings: Settings
    test_id: str
    """This test's id in the run (``captured_data.<test_id>`` holds what it captured)."""
    key: str
    """This test's key in the run: its node id."""
    _recorder: Recorder = field(repr=False, compare=False)

    @property
    def target(self) -> Target:
        """The run's database (Postgres path; the embedded server is started on demand)."""
        from runner.db.connect import resolve_target

        return resolve_target(self.settings)

    def publish(
        self,
        *,
        captured: Mapping[str, Any] | None = None,
        tokens: Mapping[str, str] | None = None,
        variables: Mapping[str, Any] | None = None,
        secret: Iterable[str] = (),
    ) -> None:
        """Share values with the run's context through the store, as a suite test does.

        ``captured`` lands in ``captured_data[test_id]``, ``tokens`` in
        ``shared_auth_tokens``, ``variables`` in ``shared_variables``. Tokens and the
        captures named in ``secret`` are sealed with ``RUNNER_SECRET_KEY`` (else stored
        as ``[REDACTED]``) and hidden from every result message recorded after this
        call. Queued, never waits: written with the store's next batch.
        """
        captured_d = dict(captured or {})
        tokens_d = dict(tokens or {})
        variables_d = dict(variables or {})
        secret_keys = frozenset(secret)
        recorder = self._recorder
        for value in tokens_d.values():
            recorder.redactor.add(value)
        for name in secret_keys & captured_d.keys():
            recorder.redactor.add(captured_d[name])
        test_id = self.test_id
        try:
            recorder.submit(
                lambda: recorder.context_changed(
                    test_id, captured_d, tokens_d, variables_d, secret_keys
                )
            )
        except Exception as exc:
            recorder.fail("cannot publish to the context", exc)

    def manager(self) -> TestExecutionContextManager:
        """A new (unconnected) context manager on the run's database; ``async with`` it.

        It acts as the settings say (``RUNNER_DATABASE_ROLE``, ``RUNNER_USER_ID``) and
        seals secrets with ``RUNNER_SECRET_KEY``, like the store.
        """
        from runner.context.manager import TestExecutionContextManager
        from runner.db.identity import identity_from_settings

        return TestExecutionContextManager(
            self.settings, identity=identity_from_settings(self.settings)
        )


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
        config.pluginmanager.register(Recorder(config), RECORDER)


@pytest.fixture
def runner_context(request: pytest.FixtureRequest) -> PytestRun:
    """The recorded run (needs ``--runner-record``): ``run_id``, ``publish()``, ``manager()``."""
    recorder = request.config.pluginmanager.get_plugin(RECORDER)
    if not isinstance(recorder, Recorder):
        pytest.skip("runner_context needs pytest --runner-record")
    run_id = recorder.wait_for_run()
    if run_id is None or recorder.settings is None:
        pytest.skip("runner_context: the run is not recorded (see the runner: line at the end)")
    nodeid = request.node.nodeid
    return PytestRun(
        run_id=run_id,
        settings=recorder.settings,
        test_id=recorder.ids.get(nodeid) or stable_ids([nodeid])[nodeid],
        key=nodeid,
        _recorder=recorder,
    )
