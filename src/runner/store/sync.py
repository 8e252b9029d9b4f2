"""Sync a suite into the configuration tables, idempotently, keyed by stable ids.

A suite's identity (``test_suites.slug``) is its declared ``id`` (or ``run-suite
--suite-id``); without one it is its name *and* its file: the first file recorded under
a name owns the slug of the name, another file with that name gets the slug
``<name>-<8 hex of its file>`` and a note says so. Each distinct content is a suite
version (``suite_versions``); runs record the version they loaded, and a sync never
deletes a test case (retention prunes those no version has).

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
import sys
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


def source_key(path: str | None) -> str | None:
    """Which file a suite is: its path inside its git work tree, else its absolute path.

    Relative to the work tree, so CI checkouts in different folders are the same file.
    """
    if not path:
        return None
    resolved = Path(path).resolve()
    for folder in resolved.parents:
        if (folder / ".git").exists():
            return resolved.relative_to(folder).as_posix()
    return resolved.as_posix()


def suite_identity(suite: Suite) -> dict[str, Any]:
    """Slug, whether it was declared, the file's key and the slug used if another file owns it."""
    key = source_key(suite.source_path)
    if suite.id:
        return {"slug": suite.id, "declared": True, "source_key": key, "alternate_slug": None}
    slug = slugify(suite.name)
    alternate = None
    if key:
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        alternate = f"{slug[:54].strip('-')}-{digest}"
    return {"slug": slug, "declared": False, "source_key": key, "alternate_slug": alternate}


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def suite_settings(suite: Suite) -> dict[str, Any]:
    """Suite-level settings as stored in ``test_suites.settings`` (secrets as references)."""
    data = suite.model_dump(
        mode="json", by_alias=True, exclude={"tests", "name", "id", "source_path"}
    )
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
            **suite_identity(suite),
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
    suite_slug: str | None = None
    suite_version_id: str | None = None
    separate_from: str | None = None
    """Set when another file owns the suite's name: that file (recorded apart from it)."""

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
            suite_slug=_text(data.get("suite_slug")),
            suite_version_id=_text(data.get("suite_version_id")),
            separate_from=_text(data.get("separate_from")),
        )

    def note(self, suite: Suite) -> str | None:
        """One line when the suite was recorded apart from a same-named suite of another file."""
        if self.separate_from is None:
            return None
        ours = source_key(suite.source_path) or "this file"
        return (
            f"suite {suite.name!r} from {ours} differs from the stored {suite.name!r} "
            f"({self.separate_from}): recorded as a separate suite {self.suite_slug!r}; "
            f"give both files `id: {slugify(suite.name)}` to share history"
        )


def announce(started: StartedRun, suite: Suite) -> None:
    """Print the note of ``started`` on stdout, if there is one."""
    note = started.note(suite)
    if note:
        print(f"note: {note}", file=sys.stdout, flush=True)


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None
