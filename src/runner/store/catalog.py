"""Suites already stored in the configuration tables, run by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.db.sqlfiles import query
from runner.errors import ConfigError
from runner.models import Suite
from runner.settings import Settings
from runner.suite.load import LoadedSuite, loaded_from_suite


async def load_suite_by_name(settings: Settings, name: str) -> LoadedSuite:
    """Rebuild the suite stored under ``name`` (or its slug) from the database."""
    from runner.db.connect import connect, resolve_target
    from runner.db.identity import Identity, apply_identity
    from runner.db.migrate import migrate
    from runner.store.sync import slugify

    target = resolve_target(settings)
    await migrate(target)
    conn = await connect(target)
    try:
        async with conn.transaction():
            await apply_identity(conn, Identity.service())
            project = slugify(settings.project) if settings.project else None
            cur = await conn.execute(
                query("load_suite_by_name"), {"name": name, "project": project}
            )
            found = await cur.fetchall()
            if not found:
                raise ConfigError(
                    f"no suite file or stored suite named {name!r} "
                    "(run a suite file once to store it)"
                )
            if len({(r[5], r[4]) for r in found}) > 1:
                where = ", ".join(sorted(f"{r[5]}/{r[4]}" for r in found))
                raise ConfigError(
                    f"suite name {name!r} is stored in several projects ({where}); "
                    "set RUNNER_PROJECT to choose one"
                )
            suite_id, suite_name, settings_json, source_path, *_ = found[0]
            cur = await conn.execute(query("suite_cases"), {"suite_id": suite_id})
            tests = [r[0] for r in await cur.fetchall()]
    finally:
        await conn.close()
    data: dict[str, Any] = {**settings_json, "name": suite_name, "tests": tests}
    suite = Suite.model_validate(data).model_copy(update={"source_path": source_path})
    base = Path(source_path).parent if source_path else None
    return loaded_from_suite(suite, base_dir=base)
