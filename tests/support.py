"""Small helpers shared by the test folders (``tests/`` is on pytest's pythonpath)."""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` by path (examples/ is not a package), once."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


async def record_example_run(
    db_url: str,
    spill_dir: Path,
    transport: httpx.AsyncBaseTransport,
    *,
    suite: Any = EXAMPLES / "shop.yaml",
    on_run_id: Callable[[str], None] | None = None,
) -> tuple[Any, Any]:
    """Record ``suite`` (a path or a loaded suite) into ``db_url`` with PostgresStore.

    Requests go through ``transport`` to ``http://shop.test``; seed 7, no services,
    no environment, no ``.env``. ``on_run_id`` gets the run id once the run exists.
    Returns the run result and the (closed) store.
    """
    from runner.api import run_suite
    from runner.db.connect import Target
    from runner.settings import Settings
    from runner.store.postgres import PostgresStore

    store = PostgresStore(Target(db_url, embedded=True), spill_dir=spill_dir)

    def on_event(event: object) -> None:
        if on_run_id and getattr(event, "kind", None) == "run_started" and store.run_id:
            on_run_id(store.run_id)

    async with store, httpx.AsyncClient(transport=transport) as client:
        result = await run_suite(
            suite,
            store=store,
            client=client,
            base_url="http://shop.test",
            services=(),
            seed=7,
            environ={},
            settings=Settings(_env_file=None),  # type: ignore[call-arg]
            on_event=on_event,
        )
    return result, store


def sample_analysis(
    regression: str = "cart",
    flaky: str = "pay",
    quarantined: tuple[str, ...] = (),
    environment: str | None = "staging",
) -> Any:
    """A RunAnalysis with one 30 % regression, one flaky test (10 runs) and quarantined keys."""
    from datetime import UTC, date, datetime

    from runner.reporting.analytics import (
        FlakyDetection,
        QuarantinedFailure,
        Regression,
        RunAnalysis,
    )

    return RunAnalysis(
        run_id="r",
        regressions=(
            Regression(
                f"case-{regression}",
                regression,
                regression.title(),
                None,
                date(2025, 3, 4),
                130.0,
                100.0,
                7,
                9,
                1.3,
                0.2,
                "p95 130 > 100",
            ),
        ),
        flaky=(
            FlakyDetection(
                "d1",
                f"case-{flaky}",
                flaky,
                flaky.title(),
                None,
                7,
                10,
                3,
                0.3,
                4,
                0.4,
                1,
                0.1,
                ("failure_rate", "flip_rate"),
                datetime(2025, 3, 4, tzinfo=UTC),
            ),
        ),
        quarantined_failures=tuple(
            QuarantinedFailure(key, key, "failed", "assertion", "failed", "known")
            for key in quarantined
        ),
    ).in_environment(environment)
