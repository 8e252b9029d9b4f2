"""Choosing and opening the store a run records into."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from runner.settings import Settings
from runner.store.base import NullStore, Store


@asynccontextmanager
async def open_store(settings: Settings, *, no_store: bool = False) -> AsyncIterator[Store]:
    """The store for these settings: nothing, or Postgres (embedded started on demand).

    The database is migrated first, so a fresh machine records without a separate step.
    """
    if no_store:
        yield NullStore()
        return
    from runner.crypto import box_from_settings
    from runner.database import resolve_target
    from runner.identity import identity_from_settings
    from runner.migrate import migrate
    from runner.store.postgres import PostgresStore

    identity = identity_from_settings(settings)  # a bad setting fails before anything starts
    target = resolve_target(settings)
    await migrate(target)
    async with PostgresStore(
        target,
        identity=identity,
        organization=settings.organization,
        project=settings.project,
        spill_dir=settings.data_dir / "spill",
        cipher=box_from_settings(settings),
    ) as store:
        yield store
