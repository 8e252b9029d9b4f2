"""Sync a suite into the configuration tables, idempotently, keyed by stable ids.

``run_request`` builds the document ``public.start_suite_run`` takes; the function
does the writing (both stores call it). Every row carries a content hash of what it
was made from and only rows whose hash changed are written, so re-syncing an
unchanged file writes nothing (no new row versions, no ``updated_at`` bumps, no audit
entries).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.models import Suite
from runner.store.base import RunInfo

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str, *, fallback: str = "default") -> str:
    """``"Shop API (staging)"`` -> ``"shop-api-staging"``; at most 63 characters."""
    slug = _NOT_SLUG.sub("-", text.lower()).strip("-")[:63].strip("-")
    return slug or fallback


def _absolute(path: str | None) -> str | None:
    return str(Path(path).resolve()) if path else None


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def suite_settings(suite: Suite) -> dict[str, Any]:
    """Suite-level settings as stored in ``test_suites.settings`` (secrets as references)."""
    data = suite.model_dump(mode="json", by_alias=True, exclude={"tests", "name", "source_path"})
    return {k: v for k, v in data.items() if v not in (None, [], {}, ())}


def case_definitions(
    suite: Suite, rows: Mapping[str, Iterable[Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """One row per test for ``test_cases``, data rows resolved inline."""
    cases = []
    for index, test in enumerate(suite.tests):
        definition = test.model_dump(mode="json", by_alias=True, exclude_none=True)
        if test.id in rows and isinstance(test.data, str):
            # keep the rows themselves: a stored suite must run without its fixture file
            definition["data"] = [dict(r) for r in rows[test.id]]
        cases.append(
            {
                "stable_id": test.id,
                "name": test.title,
                "description": test.description,
                "tags": list(test.tags),
                "enabled": test.enabled,
                "sort_order": index,
                "definition": definition,
                "content_hash": content_hash(definition),
            }
        )
    return cases


def run_request(
    info: RunInfo,
    *,
    organization: str,
    project: str | None,
) -> dict[str, Any]:
    """The document ``public.start_suite_run`` takes: the suite to sync and the run to start.

    Both stores send exactly this (PostgresStore as a statement parameter,
    SupabaseStore as an RPC argument), so the two paths share one implementation.
    """
    suite = info.suite
    settings = suite_settings(suite)
    all_edges = {(dep, test): kind for dep, test, kind in info.edges}
    for test in suite.tests:
        for explicit in test.depends_on:
            all_edges[(explicit.test, test.id)] = explicit.type
    environments = []
    for name, env in suite.environments.items():
        plain = {k: v if isinstance(v, str) else json.dumps(v) for k, v in env.variables.items()}
        environments.append(
            {"name": name, "base_url": env.base_url or suite.base_url, "variables": plain}
        )
    return {
        "organization": organization,
        "organization_slug": slugify(organization, fallback="local"),
        "project": project or suite.name,
        "project_slug": slugify(project or suite.name),
        "suite": {
            "name": suite.name,
            "slug": slugify(suite.name),
            "description": suite.description,
            # absolute, so a suite run later by name finds its services' folder
            "source_path": _absolute(suite.source_path),
            "settings": settings,
            "content_hash": content_hash(settings),
        },
        "cases": case_definitions(suite, info.rows),
        "edges": [{"dep": d, "test": t, "type": k} for (d, t), k in sorted(all_edges.items())],
        "environments": environments,
        "environment": info.environment,
        "run": {"trigger": info.trigger, "total_tests": info.total, "metadata": info.metadata},
        "order": list(info.order),
    }


@dataclass(frozen=True)
class StartedRun:
    """What ``public.start_suite_run`` returns."""

    run_id: str
    project_id: str
    suite_id: str
    environment_id: str | None
    case_ids: dict[str, str]
    quarantined: frozenset[str] = frozenset()
    """Tests whose failures do not fail the run (quarantined when it started)."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StartedRun:
        """Parse the function's JSON answer."""
        env = data.get("environment_id")
        return cls(
            run_id=str(data["run_id"]),
            project_id=str(data["project_id"]),
            suite_id=str(data["suite_id"]),
            environment_id=str(env) if env else None,
            case_ids={str(k): str(v) for k, v in dict(data.get("case_ids") or {}).items()},
            quarantined=frozenset(str(t) for t in data.get("quarantined") or ()),
        )
