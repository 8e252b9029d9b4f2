"""postgres_changes with realtime-py: events, filters, binding ids and RLS per subscriber."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from realtime import RealtimePostgresChangesListenEvent as Ev
from realtime import RealtimeSubscribeStates

from runner.serve.realtime.changes import parse_filter
from support_realtime import Inbox, User, make_user, realtime_client, sql, subscribe, user_token
from support_serve import ServeHandle

pytestmark = pytest.mark.db


def publish_projects(serve: ServeHandle) -> None:
    """Put public.projects in the supabase_realtime publication (test setup)."""
    sql(serve.db_url, "alter publication supabase_realtime add table public.projects")


def insert_project(serve: ServeHandle, user: User, name: str = "P") -> str:
    pid = str(uuid.uuid4())
    sql(
        serve.db_url,
        "insert into public.projects (id, organization_id, name, slug) values (%s, %s, %s, %s)",
        (pid, user.org_id, name, f"p-{pid[:8]}"),
    )
    return pid


async def test_insert_update_delete_reach_a_member(serve: ServeHandle) -> None:
    """A member subscribed to * on projects gets INSERT, UPDATE and DELETE shaped as on Supabase."""
    publish_projects(serve)
    alice = make_user(serve.db_url, "alice")
    async with realtime_client(serve, user_token(serve, alice)) as client:
        inbox = Inbox()
        chan = client.channel("db").on_postgres_changes(Ev.All, inbox, table="projects")
        state, err = await subscribe(chan)
        assert state == RealtimeSubscribeStates.SUBSCRIBED, err
        assert chan.postgres_changes_callbacks[0].id is not None  # the server's binding id
        pid = insert_project(serve, alice, "First")
        inserted: Any = await inbox.get()
        data = inserted["data"]
        assert inserted["ids"] == [chan.postgres_changes_callbacks[0].id]
        assert (data["type"], data["schema"], data["table"]) == ("INSERT", "public", "projects")
        assert data["record"]["id"] == pid and data["record"]["name"] == "First"
        assert {"name": "name", "type": "text"} in data["columns"]
        assert data["errors"] is None and data["commit_timestamp"].endswith("Z")
        sql(serve.db_url, "update public.projects set name = 'Second' where id = %s", (pid,))
        updated = (await inbox.get())["data"]
        assert (updated["type"], updated["record"]["name"]) == ("UPDATE", "Second")
        sql(serve.db_url, "delete from public.projects where id = %s", (pid,))
        deleted = (await inbox.get())["data"]
        # RLS table: the old record holds the primary key only, as on Supabase
        assert (deleted["type"], deleted["old_record"]) == ("DELETE", {"id": pid})


@asynccontextmanager
async def two_organisations(serve: ServeHandle) -> AsyncIterator[tuple[User, User, Inbox, Inbox]]:
    """alice and mallory, each of their own organisation, subscribed to * on projects."""
    publish_projects(serve)
    alice = make_user(serve.db_url, "alice")
    mallory = make_user(serve.db_url, "mallory")
    async with (
        realtime_client(serve, user_token(serve, alice)) as a,
        realtime_client(serve, user_token(serve, mallory)) as m,
    ):
        seen_a, seen_m = Inbox(), Inbox()
        for client, inbox in ((a, seen_a), (m, seen_m)):
            chan = client.channel("db").on_postgres_changes(Ev.All, inbox, table="projects")
            state, err = await subscribe(chan)
            assert state == RealtimeSubscribeStates.SUBSCRIBED, err
        yield alice, mallory, seen_a, seen_m


async def test_other_organisation_receives_nothing(serve: ServeHandle) -> None:
    """RLS per subscriber: a user of another organisation gets no insert, update or delete."""
    async with two_organisations(serve) as (alice, mallory, seen_a, seen_m):
        pid = insert_project(serve, alice)
        sql(serve.db_url, "update public.projects set name = 'Q' where id = %s", (pid,))
        sql(serve.db_url, "delete from public.projects where id = %s", (pid,))
        types = [(await seen_a.get())["data"]["type"] for _ in range(3)]
        assert types == ["INSERT", "UPDATE", "DELETE"]
        # mallory does get her own organisation's rows, and this is the first thing she gets
        insert_project(serve, mallory)
        assert (await seen_m.get())["data"]["record"]["organization_id"] == mallory.org_id


async def test_changes_are_judged_as_recorded_not_as_the_row_is_now(serve: ServeHandle) -> None:
    """Insert, update and delete in one transaction: the member gets all three, others none."""
    async with two_organisations(serve) as (alice, mallory, seen_a, seen_m):
        pid = str(uuid.uuid4())
        # by the time serve reads the insert and the update, the row is already gone
        with psycopg.connect(serve.db_url) as conn:
            conn.execute(
                "insert into public.projects (id, organization_id, name, slug) "
                "values (%s, %s, 'Gone', %s)",
                (pid, alice.org_id, f"p-{pid[:8]}"),
            )
            conn.execute("update public.projects set name = 'Going' where id = %s", (pid,))
            conn.execute("delete from public.projects where id = %s", (pid,))
        got = [(await seen_a.get())["data"] for _ in range(3)]
        assert [d["type"] for d in got] == ["INSERT", "UPDATE", "DELETE"]
        assert (got[0]["record"]["name"], got[1]["record"]["name"]) == ("Gone", "Going")
        insert_project(serve, mallory)
        assert (await seen_m.get())["data"]["record"]["organization_id"] == mallory.org_id


async def test_event_and_filter_select_changes(serve: ServeHandle) -> None:
    """An INSERT-only binding with name=eq.x gets only matching inserts; ids route callbacks."""
    publish_projects(serve)
    alice = make_user(serve.db_url, "alice")
    async with realtime_client(serve, user_token(serve, alice)) as client:
        wanted, updates = Inbox(), Inbox()
        chan = (
            client.channel("db")
            .on_postgres_changes(Ev.Insert, wanted, table="projects", filter="name=eq.wanted")
            .on_postgres_changes(Ev.Update, updates, table="projects")
        )
        state, err = await subscribe(chan)
        assert state == RealtimeSubscribeStates.SUBSCRIBED, err
        insert_project(serve, alice, "other")
        pid = insert_project(serve, alice, "wanted")
        got = await wanted.get()
        assert got["data"]["record"]["id"] == pid
        assert got["ids"] == [chan.postgres_changes_callbacks[0].id]
        sql(serve.db_url, "update public.projects set name = 'wanted' where id <> %s", (pid,))
        assert (await updates.get())["data"]["type"] == "UPDATE"
        # updates never reach the INSERT binding: the next thing it gets is the next insert
        later = insert_project(serve, alice, "wanted")
        assert (await wanted.get())["data"]["record"]["id"] == later


async def test_service_role_sees_everything(serve: ServeHandle) -> None:
    """The service_role key bypasses RLS for postgres_changes, as on Supabase."""
    publish_projects(serve)
    alice = make_user(serve.db_url, "alice")
    async with realtime_client(serve, serve.service_role_key) as client:
        inbox = Inbox()
        await subscribe(
            client.channel("db").on_postgres_changes(Ev.Insert, inbox, table="projects")
        )
        pid = insert_project(serve, alice)
        assert (await inbox.get())["data"]["record"]["id"] == pid


async def test_bad_filter_is_refused_at_join(serve: ServeHandle) -> None:
    """A filter the server cannot parse makes the join fail with a reason."""
    async with realtime_client(serve) as client:
        chan = client.channel("db").on_postgres_changes(
            Ev.All, lambda p: None, table="projects", filter="name=like.x"
        )
        state, err = await subscribe(chan)
        assert state == RealtimeSubscribeStates.CHANNEL_ERROR
        assert "filter" in str(err)
        await chan.unsubscribe()


def test_filters_compare_like_postgres() -> None:
    """eq/neq/lt/lte/gt/gte/in/is compare numbers as numbers and strings as strings."""
    row = {"n": 5, "s": "b", "t": None, "ok": True}
    cases = {
        "n=eq.5": True,
        "n=neq.5": False,
        "n=gt.10": False,
        "n=gte.5": True,
        "n=lt.10": True,
        "n=lte.4": False,
        "s=in.(a,b)": True,
        "s=in.(c)": False,
        "t=is.null": True,
        "ok=eq.true": True,
        "n=gt.1,s=eq.b": True,
        "n=gt.1,s=eq.c": False,
        "missing=eq.1": False,
    }
    for text, expected in cases.items():
        assert all(c.matches(row) for c in parse_filter(text)) is expected, text
