"""Fan-out and faults: 100 subscribers lose nothing; the listener survives losing Postgres."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from typing import Any

import pytest
from realtime import RealtimePostgresChangesListenEvent as Ev

from runner.serve.realtime.listener import APPLICATION_NAME
from support_realtime import Inbox, make_user, realtime_client, sql, subscribe
from support_serve import ServeHandle

pytestmark = pytest.mark.db


async def test_hundred_subscribers_each_get_every_event(serve: ServeHandle) -> None:
    """100 realtime-py subscribers of a topic each receive all N database broadcasts, in order."""
    subscribers, events = 100, 20
    async with AsyncExitStack() as stack:
        inboxes: list[Inbox] = []
        for _ in range(subscribers):
            client = await stack.enter_async_context(realtime_client(serve))
            inbox = Inbox()
            await subscribe(client.channel("fan").on_broadcast("tick", inbox))
            inboxes.append(inbox)
        sql(
            serve.db_url,
            "select realtime.send(jsonb_build_object('i', i), 'tick', 'fan', false) "
            "from generate_series(1, %s) as i",
            (events,),
        )
        for inbox in inboxes:
            got = [(await inbox.get())["payload"]["i"] for _ in range(events)]
            assert got == list(range(1, events + 1))
            assert inbox.queue.empty()


def kill_listener(serve: ServeHandle) -> int:
    """Terminate serve's LISTEN connections to this database (as a Postgres restart would)."""
    rows = sql(
        serve.db_url,
        "select pg_terminate_backend(pid) from pg_stat_activity "
        "where application_name = %s and datname = current_database()",
        (APPLICATION_NAME,),
    )
    return len(rows)


async def test_listener_reconnects_and_catches_up(serve: ServeHandle) -> None:
    """After its connections are killed, sockets stay up and nothing sent meanwhile is lost."""
    async with realtime_client(serve) as client:
        inbox = Inbox()
        chan = client.channel("survive").on_broadcast("n", inbox)
        await subscribe(chan)
        send = "select realtime.send(jsonb_build_object('i', %s::int), 'n', 'survive', false)"
        sql(serve.db_url, send, (1,))
        assert (await inbox.get())["payload"]["i"] == 1
        assert kill_listener(serve) == 2
        # committed while the listener is away or reconnecting: delivered by the catch-up
        sql(serve.db_url, send, (2,))
        assert (await inbox.get(wait_s=20))["payload"]["i"] == 2
        sql(serve.db_url, send, (3,))
        assert (await inbox.get())["payload"]["i"] == 3
        assert chan.is_joined and client.is_connected
        sql(serve.db_url, send, (4,))
        assert (await inbox.get())["payload"]["i"] == 4  # nothing was delivered twice


async def test_changes_committed_while_listener_is_away_arrive(serve: ServeHandle) -> None:
    """postgres_changes committed while the listener reconnects are delivered afterwards."""
    sql(serve.db_url, "alter publication supabase_realtime add table public.projects")
    alice = make_user(serve.db_url, "alice")
    async with realtime_client(serve, serve.service_role_key) as client:
        inbox = Inbox()
        await subscribe(
            client.channel("db").on_postgres_changes(Ev.Insert, inbox, table="projects")
        )
        kill_listener(serve)
        pid = str(uuid.uuid4())
        sql(
            serve.db_url,
            "insert into public.projects (id, organization_id, name, slug) "
            "values (%s, %s, 'P', %s)",
            (pid, alice.org_id, f"p-{pid[:8]}"),
        )
        got: Any = await inbox.get(wait_s=20)
        assert got["data"]["record"]["id"] == pid


async def test_many_sockets_connect_concurrently(serve: ServeHandle) -> None:
    """Thirty clients joining at once all get SUBSCRIBED."""
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(realtime_client(serve)) for _ in range(30)]
        states = await asyncio.gather(*(subscribe(c.channel("crowd")) for c in clients))
        assert all(state.value == "SUBSCRIBED" for state, _ in states)
