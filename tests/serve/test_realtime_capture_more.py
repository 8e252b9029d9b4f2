"""ChangeCapture against a real database: not the local stack, tables without keys, fallbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from runner.db.connect import Target
from runner.serve.keys import ServeKeys
from runner.serve.realtime.authz import ChannelIdentity
from runner.serve.realtime.capture import ChangeCapture
from runner.serve.realtime.changes import Change
from runner.serve.state import ServeState
from support_realtime import sql
from support_serve import JWT_SECRET

pytestmark = pytest.mark.db

ANON = ChannelIdentity("anon", {"role": "anon"}, None)
USER = ChannelIdentity(
    "authenticated", {"role": "authenticated", "sub": "00000000-0000-0000-0000-000000000001"}, None
)
SERVICE = ChannelIdentity("service_role", {"role": "service_role"}, None)
NOBODY = ChannelIdentity("no_such_role", {"role": "no_such_role"}, None)
STAMP = datetime(2024, 1, 1, tzinfo=UTC)


async def open_state(db_url: str) -> ServeState:
    state = ServeState(
        target=Target(db_url, embedded=True),
        keys=ServeKeys.from_secret(JWT_SECRET),
        public_url="http://127.0.0.1:1",
        pool_size=2,
    )
    await state.open()
    return state


@pytest.fixture
async def capture(migrated_db: str) -> AsyncIterator[ChangeCapture]:
    """A ChangeCapture on the local stack with a few test tables, users may read some rows."""
    sql(
        migrated_db,
        """
        create table public.keyed (id int primary key, name text not null);
        alter table public.keyed enable row level security;
        create policy keyed_read on public.keyed for select to authenticated
            using (name <> 'hidden');
        grant select on public.keyed to authenticated, service_role;
        insert into public.keyed values (1, 'shown');
        create table public.loose (n int);
        grant select on public.loose to authenticated;
        create table public.loose_rls (n int);
        alter table public.loose_rls enable row level security;
        grant select on public.loose_rls to authenticated, service_role;
        """,
    )
    state = await open_state(migrated_db)
    try:
        yield ChangeCapture(state.pool)
    finally:
        await state.close()


def change(table: str, kind: str, row: dict[str, Any]) -> Change:
    record = None if kind == "DELETE" else row
    old = row if kind != "INSERT" else None
    return Change(1, "public", table, kind, record, old, STAMP)


async def test_sync_on_a_database_without_the_local_stack_is_refused(bare_db: str) -> None:
    """Without the compatibility stack sync installs nothing and says capture is unavailable."""
    state = await open_state(bare_db)
    try:
        capture = ChangeCapture(state.pool)
        assert await capture.sync() is False
        assert capture.local is False
        assert await capture.sync() is False
        assert await capture.table("public", "nothing") is None
    finally:
        await state.close()


async def test_table_info_is_read_once_and_reset_by_sync(capture: ChangeCapture) -> None:
    """table() reports key, RLS and columns; sync() forgets the cache so changes are seen."""
    assert await capture.sync() is True
    info = await capture.table("public", "keyed")
    assert info is not None
    assert (info.primary_key, info.rls, info.replica_identity_full) == (["id"], True, False)
    assert [c["name"] for c in info.columns] == ["id", "name"]
    sql(capture.pool.conninfo, "alter table public.keyed replica identity full")
    assert (await capture.table("public", "keyed")) is info
    assert await capture.sync() is True
    again = await capture.table("public", "keyed")
    assert again is not None and again.replica_identity_full


async def test_rows_are_judged_as_recorded(capture: ChangeCapture) -> None:
    """An update recorded as hidden is refused to a user even though the row now shows."""
    info = await capture.table("public", "keyed")
    assert info is not None
    who = [USER, SERVICE, NOBODY]
    seen = await capture.visible(who, change("keyed", "UPDATE", {"id": 1, "name": "hidden"}), info)
    assert seen == {USER.key: False, SERVICE.key: True, NOBODY.key: False}
    shown = await capture.visible(who, change("keyed", "UPDATE", {"id": 1, "name": "x"}), info)
    assert shown == {USER.key: True, SERVICE.key: True, NOBODY.key: False}


async def test_an_image_that_cannot_be_restored_falls_back(capture: ChangeCapture) -> None:
    """A recorded row that violates NOT NULL: updates by the current row, deletes by privilege."""
    info = await capture.table("public", "keyed")
    assert info is not None
    broken = {"id": 1, "name": None}
    update = await capture.visible([USER, ANON], change("keyed", "UPDATE", broken), info)
    assert update == {USER.key: True, ANON.key: False}
    sql(capture.pool.conninfo, "update public.keyed set name = 'hidden' where id = 1")
    hidden = await capture.visible([USER], change("keyed", "UPDATE", broken), info)
    assert hidden == {USER.key: False}
    delete = await capture.visible([USER, ANON], change("keyed", "DELETE", broken), info)
    assert delete == {USER.key: True, ANON.key: False}


async def test_tables_without_a_key_show_changes_only_without_rls(capture: ChangeCapture) -> None:
    """No primary key: the table privilege decides, and a table with RLS shows nothing."""
    loose = await capture.table("public", "loose")
    loose_rls = await capture.table("public", "loose_rls")
    assert loose is not None and loose_rls is not None and not loose.primary_key
    row = change("loose", "INSERT", {"n": 1})
    assert await capture.visible([USER, ANON], row, loose) == {USER.key: True, ANON.key: False}
    row_rls = change("loose_rls", "INSERT", {"n": 1})
    assert await capture.visible([USER, SERVICE], row_rls, loose_rls) == {
        USER.key: False,
        SERVICE.key: False,
    }
