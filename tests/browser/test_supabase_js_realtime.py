"""supabase-js Realtime (vsn 2.0.0, binary broadcast frames) in Chromium against ``serve``."""

from __future__ import annotations

from browser_support import insert_run, seed_org, sign_up, sql
from playwright.sync_api import Page

from support_serve import ServeHandle


def test_broadcast_between_two_clients_honours_self_and_ack(sb_page: Page) -> None:
    """A broadcast reaches the other client; self echoes only when asked; ack resolves 'ok'."""
    result = sb_page.evaluate(
        """async () => {
            const a = makeClient('sb-a'), b = makeClient('sb-b');
            const ia = inbox(), ib = inbox();
            const ca = a.channel('room-1', { config: { broadcast: { self: true, ack: true } } })
                .on('broadcast', { event: 'note' }, (m) => ia.push(m));
            const cb = b.channel('room-1')
                .on('broadcast', { event: 'note' }, (m) => ib.push(m));
            const joined = [await subscribeStatus(ca), await subscribeStatus(cb)];
            const ack = await ca.send({ type: 'broadcast', event: 'note', payload: { n: 1 } });
            const echoed = await ia.until((m) => m.payload.n === 1);
            const received = await ib.until((m) => m.payload.n === 1);
            // b does not hear itself (self is off): a hears n=2, then b hears a's n=3 after it
            await cb.send({ type: 'broadcast', event: 'note', payload: { n: 2 } });
            await ia.until((m) => m.payload.n === 2);
            await ca.send({ type: 'broadcast', event: 'note', payload: { n: 3 } });
            await ib.until((m) => m.payload.n === 3);
            return { joined, ack, echoed, received, bHeard: ib.items.map((m) => m.payload.n) };
        }"""
    )
    assert result["joined"] == [{"status": "SUBSCRIBED", "error": None}] * 2, result
    assert result["ack"] == "ok"
    assert result["echoed"] == {"type": "broadcast", "event": "note", "payload": {"n": 1}}
    assert result["received"] == {"type": "broadcast", "event": "note", "payload": {"n": 1}}
    assert result["bHeard"] == [1, 3]


def test_a_broadcast_sent_from_sql_reaches_the_subscriber(
    sb_page: Page, serve: ServeHandle
) -> None:
    """realtime.send() in the database is delivered as a broadcast on the public topic."""
    sb_page.evaluate(
        """async () => {
            window.news = inbox();
            const channel = makeClient('sb-news').channel('announcements')
                .on('broadcast', { event: 'news' }, (m) => news.push(m));
            window.joined = await subscribeStatus(channel);
        }"""
    )
    assert sb_page.evaluate("joined") == {"status": "SUBSCRIBED", "error": None}
    sql(
        serve.db_url,
        """select realtime.send('{"text": "hello"}'::jsonb, 'news', 'announcements', false)""",
    )
    message = sb_page.evaluate("news.until((m) => m.payload.text === 'hello')")
    assert message["event"] == "news"
    assert message["type"] == "broadcast"


def test_postgres_changes_insert_respects_rls_and_filters(
    sb_page: Page, serve: ServeHandle
) -> None:
    """INSERTs reach members of the row's organisation only, and only rows matching the filter."""
    alice = sign_up(sb_page, "alice")
    mallory = sign_up(sb_page, "mallory")
    _, project_a = seed_org(serve.db_url, alice.id, "org-a")
    _, project_b = seed_org(serve.db_url, mallory.id, "org-b")
    with_filter = sb_page.evaluate(
        """async (projectA) => {
            window.aRuns = inbox(); window.aFiltered = inbox(); window.mRuns = inbox();
            const subscribe = (client, box, filter) => subscribeStatus(client.channel('db-' + box)
                .on('postgres_changes',
                    { event: 'INSERT', schema: 'public', table: 'test_runs', ...filter },
                    (change) => window[box].push(change)));
            return [await subscribe(alice, 'aRuns', {}),
                    await subscribe(alice, 'aFiltered', { filter: 'project_id=eq.' + projectA }),
                    await subscribe(mallory, 'mRuns', {})];
        }""",
        project_a,
    )
    assert with_filter == [{"status": "SUBSCRIBED", "error": None}] * 3
    other_project = _second_project(serve, project_a)
    first = insert_run(serve.db_url, other_project)
    run_a = insert_run(serve.db_url, project_a)
    run_b = insert_run(serve.db_url, project_b)
    change = sb_page.evaluate("(id) => aRuns.until((c) => c.new.id === id)", run_a)
    assert change["eventType"] == "INSERT"
    assert change["schema"] == "public" and change["table"] == "test_runs"
    assert change["new"]["project_id"] == project_a and change["new"]["status"] == "running"
    assert change["commit_timestamp"]
    filtered = sb_page.evaluate("(id) => aFiltered.until((c) => c.new.id === id)", run_a)
    assert filtered["new"]["id"] == run_a
    assert first not in [c["new"]["id"] for c in sb_page.evaluate("aFiltered.items")]
    sb_page.evaluate("(id) => mRuns.until((c) => c.new.id === id)", run_b)
    # mallory's own insert came after alice's: anything of org A would have come first
    assert [c["new"]["id"] for c in sb_page.evaluate("mRuns.items")] == [run_b]


def _second_project(serve: ServeHandle, project_id: str) -> str:
    """Another project of the same organisation as ``project_id``."""
    import psycopg

    with psycopg.connect(serve.db_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.projects (organization_id, name, slug)"
            " select organization_id, 'Other', 'other' from public.projects where id = %s"
            " returning id",
            (project_id,),
        ).fetchone()
        assert row is not None
        return str(row[0])


def test_private_channel_admits_members_and_refuses_others(
    sb_page: Page, serve: ServeHandle
) -> None:
    """run:<id> with private: true joins for a member and gets run events; others are refused."""
    alice = sign_up(sb_page, "alice")
    sign_up(sb_page, "mallory")
    _, project = seed_org(serve.db_url, alice.id, "org-a")
    run = insert_run(serve.db_url, project)
    statuses = sb_page.evaluate(
        """async (topic) => {
            window.events = inbox();
            await alice.realtime.setAuth((await alice.auth.getSession()).data.session.access_token);
            const member = alice.channel(topic, { config: { private: true } })
                .on('broadcast', { event: '*' }, (m) => events.push(m));
            const outsider = mallory.channel(topic, { config: { private: true } });
            const anon = makeClient('sb-anon').channel(topic, { config: { private: true } });
            return { member: await subscribeStatus(member),
                     outsider: await subscribeStatus(outsider),
                     anon: await subscribeStatus(anon) };
        }""",
        f"run:{run}",
    )
    assert statuses["member"] == {"status": "SUBSCRIBED", "error": None}, statuses
    assert statuses["outsider"]["status"] == "CHANNEL_ERROR", statuses
    assert "nauthorized" in (statuses["outsider"]["error"] or ""), statuses
    assert statuses["anon"]["status"] == "CHANNEL_ERROR", statuses
    sql(serve.db_url, "update public.test_runs set status = 'passed' where id = %s", (run,))
    event = sb_page.evaluate("events.until((m) => m.event === 'run_completed')")
    assert event["payload"]["run_id"] == run
    assert event["payload"]["seq"] == 2
    assert event["payload"]["status"] == "passed"


def test_presence_tracks_joins_and_leaves(sb_page: Page) -> None:
    """track() shows up in the other client's presenceState; untrack() is a leave."""
    result = sb_page.evaluate(
        """async () => {
            const syncs = inbox(), leaves = inbox();
            const a = makeClient('sb-a').channel('lobby', { config: { presence: { key: 'ann' } } });
            const b = makeClient('sb-b').channel('lobby', { config: { presence: { key: 'bob' } } });
            a.on('presence', { event: 'sync' }, () => syncs.push(a.presenceState()))
             .on('presence', { event: 'leave' }, (e) => leaves.push(e));
            const joined = [await subscribeStatus(a), await subscribeStatus(b)];
            const tracked = [await a.track({ name: 'Ann' }), await b.track({ name: 'Bob' })];
            const both = await syncs.until((s) => s.ann && s.bob);
            const untracked = await b.untrack();
            const left = await leaves.until((e) => e.key === 'bob');
            return { joined, tracked, untracked, bob: both.bob.map((m) => m.name),
                     ann: both.ann.map((m) => m.name), leftKey: left.key };
        }"""
    )
    assert result["joined"] == [{"status": "SUBSCRIBED", "error": None}] * 2, result
    assert result["tracked"] == ["ok", "ok"] and result["untracked"] == "ok"
    assert result["ann"] == ["Ann"] and result["bob"] == ["Bob"]
    assert result["leftKey"] == "bob"


def test_postgres_changes_update_carries_the_new_row(sb_page: Page, serve: ServeHandle) -> None:
    """An UPDATE reaches a member subscribed to every event, with the row as it is now."""
    alice = sign_up(sb_page, "alice")
    _, project = seed_org(serve.db_url, alice.id, "org-a")
    run = insert_run(serve.db_url, project)
    joined = sb_page.evaluate(
        """async (projectId) => {
            window.changes = inbox();
            return await subscribeStatus(alice.channel('all-runs')
                .on('postgres_changes',
                    { event: '*', schema: 'public', table: 'test_runs',
                      filter: 'project_id=eq.' + projectId },
                    (change) => changes.push(change)));
        }""",
        project,
    )
    assert joined == {"status": "SUBSCRIBED", "error": None}
    sql(serve.db_url, "update public.test_runs set status = 'failed' where id = %s", (run,))
    change = sb_page.evaluate("changes.until((c) => c.eventType === 'UPDATE')")
    assert change["new"]["id"] == run
    assert change["new"]["status"] == "failed"
    assert change["new"]["finished_at"]
    assert change["table"] == "test_runs"
