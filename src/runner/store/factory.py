"""Choosing and opening the store a run records into."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from runner.settings import Settings
from runner.store.base import NullStore, Store
from runner.store.heartbeat import interval_for, reap_quietly

if TYPE_CHECKING:
    from runner.store.supabase import SupabaseStore


@asynccontextmanager
async def open_store(settings: Settings, *, no_store: bool = False) -> AsyncIterator[Store]:
    """The store for these settings: nothing, or Postgres (embedded started on demand).

    The database is migrated first, so a fresh machine records without a separate step.
    """
    if no_store:
        yield NullStore()
        return
    if settings.store == "supabase":
        async with _supabase_store(settings) as store:
            await reap_quietly(store, settings.stale_run_s)  # runs whose runner died
            yield store
        return
    from runner.db.connect import resolve_target
    from runner.db.identity import identity_from_settings
    from runner.db.migrate import migrate
    from runner.secrets.crypto import box_from_settings
    from runner.store.postgres import PostgresStore

    identity = identity_from_settings(settings)  # a bad setting fails before anything starts
    target = resolve_target(settings)
    await migrate(target)
    async with PostgresStore(
        target,
        identity=identity,
        organization=settings.organization_ref,
        project=settings.project,
        spill_dir=settings.data_dir / "spill",
        cipher=box_from_settings(settings),
        heartbeat_s=interval_for(settings.stale_run_s),
    ) as store:
        await reap_quietly(store, settings.stale_run_s)  # runs whose runner died
        yield store


@asynccontextmanager
async def _supabase_store(settings: Settings) -> AsyncIterator[SupabaseStore]:
    """RUNNER_STORE=supabase: everything through SUPABASE_URL and SUPABASE_KEY (RPC)."""
    from runner.errors import ConfigError
    from runner.secrets.crypto import box_from_settings
    from runner.store.supabase import SupabaseStore

    if not settings.supabase_url:
        raise ConfigError("RUNNER_STORE=supabase needs SUPABASE_URL")
    key = settings.supabase_key.get_secret_value() if settings.supabase_key else ""
    password = settings.supabase_password
    async with SupabaseStore(
        settings.supabase_url,
        key,
        email=settings.supabase_email or None,
        password=password.get_secret_value() if password else None,
        organization=settings.organization_ref,
        project=settings.project,
        spill_dir=settings.data_dir / "spill",
        cipher=box_from_settings(settings),
        heartbeat_s=interval_for(settings.stale_run_s),
    ) as store:
        yield store
