"""Run dependent API test suites and keep everything they produce in Supabase.

The public API, typed and small. Names are imported on first use so that
``python -m runner --help`` stays fast::

    import runner

    result = await runner.run_suite("examples/shop.yaml", env="local")
    assert result.ok, result.counts
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.api import run_suite
    from runner.context.manager import TestExecutionContextManager
    from runner.context.request import build_request
    from runner.db.identity import Identity
    from runner.errors import (
        ConfigError,
        DatabaseError,
        PlanError,
        RunnerError,
        ServiceError,
        SuiteError,
    )
    from runner.models import (
        Attempt,
        CaptureSpec,
        CheckResult,
        Checks,
        Defaults,
        Dependency,
        Environment,
        JsonCheck,
        RequestSpec,
        RetryPolicy,
        RunResult,
        RunStatus,
        Service,
        Status,
        Suite,
        TestResult,
        TestSpec,
    )
    from runner.plan.graph import Plan, build_plan
    from runner.settings import Settings
    from runner.store.base import NullStore, Store
    from runner.store.credentials import delete_credential, load_credential, save_credential
    from runner.store.factory import open_store
    from runner.store.postgres import PostgresStore
    from runner.suite.load import LoadedSuite, load_suite

_WHERE = {
    "run_suite": "runner.api",
    "TestExecutionContextManager": "runner.context.manager",
    "ConfigError": "runner.errors",
    "DatabaseError": "runner.errors",
    "PlanError": "runner.errors",
    "RunnerError": "runner.errors",
    "ServiceError": "runner.errors",
    "SuiteError": "runner.errors",
    "LoadedSuite": "runner.suite.load",
    "load_suite": "runner.suite.load",
    "Attempt": "runner.models",
    "CaptureSpec": "runner.models",
    "CheckResult": "runner.models",
    "Checks": "runner.models",
    "Defaults": "runner.models",
    "Dependency": "runner.models",
    "Environment": "runner.models",
    "JsonCheck": "runner.models",
    "RequestSpec": "runner.models",
    "RetryPolicy": "runner.models",
    "RunResult": "runner.models",
    "RunStatus": "runner.models",
    "Service": "runner.models",
    "Status": "runner.models",
    "Suite": "runner.models",
    "TestResult": "runner.models",
    "TestSpec": "runner.models",
    "Plan": "runner.plan.graph",
    "build_plan": "runner.plan.graph",
    "build_request": "runner.context.request",
    "delete_credential": "runner.store.credentials",
    "load_credential": "runner.store.credentials",
    "save_credential": "runner.store.credentials",
    "Identity": "runner.db.identity",
    "open_store": "runner.store.factory",
    "Settings": "runner.settings",
    "NullStore": "runner.store.base",
    "Store": "runner.store.base",
    "PostgresStore": "runner.store.postgres",
}

__all__ = [
    "Attempt",
    "CaptureSpec",
    "CheckResult",
    "Checks",
    "ConfigError",
    "DatabaseError",
    "Defaults",
    "Dependency",
    "Environment",
    "Identity",
    "JsonCheck",
    "LoadedSuite",
    "NullStore",
    "Plan",
    "PlanError",
    "PostgresStore",
    "RequestSpec",
    "RetryPolicy",
    "RunResult",
    "RunStatus",
    "RunnerError",
    "Service",
    "ServiceError",
    "Settings",
    "Status",
    "Store",
    "Suite",
    "SuiteError",
    "TestExecutionContextManager",
    "TestResult",
    "TestSpec",
    "build_plan",
    "build_request",
    "delete_credential",
    "load_credential",
    "load_suite",
    "open_store",
    "run_suite",
    "save_credential",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'runner' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
