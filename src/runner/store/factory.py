"""Choosing and opening the store a run records into.

Opening a database store first replays what earlier runs could not write (their
spill files, ``runner.store.replay``), so results kept during an outage reach the
database with the next command, before anything else is read or written.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from runner.settings import Settings
from runner.store.base import NullStore, Store
from runner.store.heartbeat import interval_for, reap_quietly
from runner.store.replay import ReplayReport, spill_files

if TYPE_CHECKING:
    from runner.store.postgres import PostgresStore
    from runner.store.supabase import SupabaseStore

log = logging.getLogger("runner.store")


@asynccontextmanager
async def open_store(settings: Settings, *, no_store: bool = False) -> AsyncIterator[Store]:
    """The store for these settings: nothing, Postgres (embedded started on demand) or Supabase.

    The database is migrated first, so a fresh machine records without a separate
    step; then earlier runs' spill files are replayed.
    """
    if no_store:
        yield NullStore()
        return
    async with _database_store(settings, migrate=True) as store:
        if spill_files(store.spill_dir):
            report = await store.replay_spilled()
            for line in report.lines():
                log.warning("%s", line)
        # after the replay: a run whose finish was spilled is not taken for a dead one
        await reap_quietly(store, settings.stale_run_s)  # runs whose runner died
        yield store


async def replay_spilled(settings: Settings) -> ReplayReport:
    """Write what earlier runs kept in the spill folder (``db replay``, ``db status``).

    Nothing is opened when there is nothing to replay.
    """
    if not spill_files(settings.data_dir / "spill"):
        return ReplayReport()
    async with _database_store(settings, migrate=False) as store:
        return await store.replay_spilled()


@asynccontextmanager
async def _database_store(
    settings: Settings, *, migrate: bool
) -> AsyncIterator[PostgresStore | SupabaseStore]:
    if settings.store == "supabase":
        async with _supabase_store(settings) as store:
            yield store
        return
    from runner.db.connect import resolve_target
    from runner.db.identity import identity_from_settings
    from runner.db.migrate import migrate as apply_migrations
    from runner.secrets.crypto import box_from_settings
    from runner.store.postgres import PostgresStore

    identity = identity_from_settings(settings)  # a bad setting fails before anything starts
    target = resolve_target(settings)
    if migrate:
        await apply_migrations(target)
    async with PostgresStore(
        target,
        identity=identity,
        organization=settings.organization_ref,
        project=settings.project,
        spill_dir=settings.data_dir / "spill",
        cipher=box_from_settings(settings),
        heartbeat_s=interval_for(settings.stale_run_s),
        outage_s=settings.db_outage_s,
    ) as store:
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
        outage_s=settings.db_outage_s,
    ) as store:
        yield store
