"""Suites already stored in the configuration tables, run by name.

A store reads them with ``public.stored_suite`` (``Store.load_suite``); this turns
that answer back into a suite, refusing a name that is unknown or ambiguous.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.errors import ConfigError
from runner.models import Suite
from runner.suite.load import LoadedSuite, loaded_from_suite


def suite_from_stored(name: str, found: dict[str, Any]) -> LoadedSuite:
    """The suite ``public.stored_suite(name, project)`` returned, rebuilt and validated."""
    matches = found.get("matches") or []
    stored = found.get("suite")
    if not matches or not isinstance(stored, dict):
        raise ConfigError(
            f"no suite file or stored suite named {name!r} (run a suite file once to store it)"
        )
    if len({(m["organization"], m["project"]) for m in matches}) > 1:
        where = ", ".join(sorted(f"{m['organization']}/{m['project']}" for m in matches))
        raise ConfigError(
            f"suite name {name!r} is stored in several projects ({where}); "
            "set RUNNER_PROJECT to choose one"
        )
    if len(matches) > 1:  # same-named suites of different files: each has its own slug
        slugs = ", ".join(sorted(str(m.get("slug")) for m in matches))
        raise ConfigError(
            f"suite name {name!r} is stored as several suites ({slugs}); run one by its slug"
        )
    source_path = stored.get("source_path")
    data: dict[str, Any] = {
        **(stored.get("settings") or {}),
        "name": stored["name"],
        "tests": found.get("tests") or [],
    }
    suite = Suite.model_validate(data).model_copy(update={"source_path": source_path})
    base = Path(source_path).parent if source_path else None
    return loaded_from_suite(suite, base_dir=base)
