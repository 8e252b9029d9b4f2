"""``run_suite()``: the whole pipeline for Python callers (and the CLI).

load -> plan -> environment -> services -> execute, with the store and the HTTP
client injectable so tests can pass an in-memory store and ``httpx.MockTransport``.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from runner.execute.engine import OnEvent, execute
from runner.execute.logsafe import learning_store, redacting_logs
from runner.models import RunResult, Service, Suite
from runner.plan.graph import build_plan
from runner.secrets.redact import Redactor
from runner.settings import HttpClient, Settings
from runner.store.base import NullStore, Store
from runner.suite.credentials_lint import redacted_suite, resolve_secret_captures
from runner.suite.environment import resolve_environment
from runner.suite.load import LoadedSuite, load_suite, loaded_from_suite


def new_seed() -> int:
    """A fresh seed for a run that was given none (recorded with the run)."""
    return random.SystemRandom().randrange(1 << 31)


def as_loaded(suite: str | Path | Suite | LoadedSuite) -> LoadedSuite:
    """Load a suite file, or wrap a suite built in Python."""
    if isinstance(suite, LoadedSuite):
        return suite
    if isinstance(suite, Suite):
        return loaded_from_suite(suite)
    return load_suite(suite)


def make_client(concurrency: int, kind: HttpClient = "aiohttp") -> httpx.AsyncClient:
    """The run's one HTTP client, with a pool sized to the concurrency.

    ``kind`` is the transport under httpx: ``aiohttp`` or ``httpcore``
    (``RUNNER_HTTP_CLIENT``).
    """
    from runner.execute.http.send import make_transport

    return httpx.AsyncClient(transport=make_transport(concurrency, kind), follow_redirects=False)


async def run_suite(
    suite: str | Path | Suite | LoadedSuite,
    *,
    env: str | None = None,
    concurrency: int | None = None,
    store: Store | None = None,
    client: httpx.AsyncClient | None = None,
    bail: bool = False,
    tags: Sequence[str] = (),
    tests: Sequence[str] = (),
    variables: Mapping[str, str] | None = None,
    base_url: str | None = None,
    seed: int | None = None,
    environ: Mapping[str, str] | None = None,
    settings: Settings | None = None,
    services: Sequence[Service] | None = None,
    extra_services: Sequence[Service] = (),
    on_event: OnEvent | None = None,
    trigger: str = "api",
) -> RunResult:
    """Run a suite and return its result; failed tests are results, not exceptions.

    Raises ``SuiteError``/``PlanError``/``ConfigError`` for a suite that cannot run
    and ``ServiceError`` when a service does not start. ``services`` replaces the
    suite's own services (pass ``()`` to start none); ``extra_services`` are started
    after them. ``store`` defaults to ``NullStore``; ``client`` to a new client that
    is closed afterwards (an injected one is left open).
    """
    settings = settings or Settings()
    loaded = as_loaded(suite)
    # captures secret by name, literal credentials hidden from the store (issue 15)
    loaded = dataclasses.replace(
        loaded, suite=resolve_secret_captures(loaded.suite, settings.secret_name_pattern)
    )
    plan = build_plan(loaded, tags=tags, tests=tests)
    environ_map = os.environ if environ is None else environ
    stored: dict[str, str] = {}
    if store is not None:
        from runner.store.run_inputs import stored_secrets_for_run

        stored = await stored_secrets_for_run(store, loaded, env, environ_map)
    environment = resolve_environment(
        loaded,
        env,
        environ_map,
        variables or {},
        base_url=base_url,
        stored=stored,
    )
    found = {}
    if store is not None and store.user is not None:
        from runner.store.run_inputs import credentials_for_run, template_values

        found = await credentials_for_run(store, loaded.suite)
    if found:
        environment = dataclasses.replace(
            environment,
            credentials=template_values(found),
            hidden=tuple(v for c in found.values() for v in c.secret.values()),
        )
    concurrency = concurrency or settings.concurrency
    seed = new_seed() if seed is None else seed
    to_start = [*(loaded.suite.services if services is None else services), *extra_services]
    async with AsyncExitStack() as stack:
        if to_start:
            from runner.execute.processes import (
                run_services,  # only suites with services pay for it
            )

            await stack.enter_async_context(
                run_services(to_start, base_dir=_suite_dir(loaded), environ=environ)
            )
        if client is None:
            client = await stack.enter_async_context(make_client(concurrency, settings.http_client))
        # secrets (and the tokens the run learns) never reach a log line
        log_filter = stack.enter_context(
            redacting_logs(
                [*environment.secrets.values(), *environment.hidden],
                redactor=Redactor(c.value for c in loaded.credentials),
            )
        )
        result = await execute(
            plan,
            store=learning_store(store or NullStore(), log_filter),
            client=client,
            environment=environment,
            concurrency=concurrency,
            bail=bail,
            seed=seed,
            body_limit=settings.body_limit,
            on_event=on_event,
            trigger=trigger,
            redactor=log_filter.redactor,  # the run's: its log lines know what it learns
            stored_suite=redacted_suite(plan.suite, loaded.credentials),
        )
        if settings.webhook_urls:  # after the run is recorded; never fails it
            from runner.reporting.webhooks import notify_run

            await notify_run(result, settings=settings, store=store)
        return result


def _suite_dir(loaded: LoadedSuite) -> Path:
    """The folder service commands run in: the suite file's, else the current one."""
    source = loaded.suite.source_path
    return Path(source).resolve().parent if source else Path.cwd()
