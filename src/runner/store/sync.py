"""Sync a suite into the configuration tables, idempotently, keyed by stable ids.

Every row carries a content hash of what it was made from; upserts only write rows
whose hash changed, so re-syncing an unchanged file writes nothing (no new row
versions, no ``updated_at`` bumps, no audit entries).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from runner.models import Suite
from runner.sqlfiles import query
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


@dataclass(frozen=True)
class SyncedSuite:
    """Ids the run needs after a sync."""

    project_id: str
    suite_id: str
    environment_id: str | None
    case_ids: dict[str, str]


async def sync_suite(
    conn: Any,
    *,
    suite: Suite,
    rows: Mapping[str, Iterable[Mapping[str, Any]]],
    edges: Iterable[tuple[str, str, str]],
    environment: str | None,
    organization: str,
    project: str | None,
) -> SyncedSuite:
    """Mirror ``suite`` into organisations/projects/suites/cases/dependencies/environments.

    Runs inside the caller's transaction. ``edges`` are (dependency, test, type).
    """
    org_slug = slugify(organization, fallback="local")
    project_slug = slugify(project or suite.name)
    await conn.execute(query("ensure_organization"), {"name": organization, "slug": org_slug})
    await conn.execute(
        query("ensure_project"),
        {"name": project or suite.name, "slug": project_slug, "org_slug": org_slug},
    )
    row = await (
        await conn.execute(query("find_project"), {"org_slug": org_slug, "slug": project_slug})
    ).fetchone()
    project_id = str(row[0])

    settings = suite_settings(suite)
    suite_slug = slugify(suite.name)
    await conn.execute(
        query("sync_suite"),
        {
            "project_id": project_id,
            "name": suite.name,
            "slug": suite_slug,
            "description": suite.description,
            # absolute, so a suite run later by name finds its services' folder
            "source_path": _absolute(suite.source_path),
            "settings": Jsonb(settings),
            "content_hash": content_hash(settings),
        },
    )
    row = await (
        await conn.execute(query("find_suite"), {"project_id": project_id, "slug": suite_slug})
    ).fetchone()
    suite_id = str(row[0])

    cases = case_definitions(suite, rows)
    await conn.execute(
        query("sync_cases"),
        {"project_id": project_id, "suite_id": suite_id, "cases": Jsonb(cases)},
    )
    await conn.execute(
        query("prune_cases"),
        {"suite_id": suite_id, "stable_ids": [c["stable_id"] for c in cases]},
    )
    all_edges = {(dep, test): kind for dep, test, kind in edges}
    for test in suite.tests:
        for explicit in test.depends_on:
            all_edges[(explicit.test, test.id)] = explicit.type
    edge_rows = [{"dep": d, "test": t, "type": k} for (d, t), k in sorted(all_edges.items())]
    await conn.execute(
        query("sync_dependencies"), {"suite_id": suite_id, "edges": Jsonb(edge_rows)}
    )
    await conn.execute(
        query("prune_dependencies"),
        {"suite_id": suite_id, "pairs": [f"{t} {d}" for (d, t) in all_edges]},
    )

    environment_id = None
    for name, env in suite.environments.items():
        await conn.execute(
            query("sync_environment"),
            {"project_id": project_id, "name": name, "base_url": env.base_url or suite.base_url},
        )
        found = await (
            await conn.execute(query("find_environment"), {"project_id": project_id, "name": name})
        ).fetchone()
        env_id = str(found[0])
        plain = {k: v if isinstance(v, str) else json.dumps(v) for k, v in env.variables.items()}
        if plain:
            await conn.execute(
                query("sync_variables"),
                {"project_id": project_id, "environment_id": env_id, "variables": Jsonb(plain)},
            )
        if name == environment:
            environment_id = env_id

    ids = await (await conn.execute(query("case_ids"), {"suite_id": suite_id})).fetchall()
    return SyncedSuite(project_id, suite_id, environment_id, {s: str(i) for s, i in ids})


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
        )
