"""The Supabase compatibility bootstrap: what it provides, how it behaves, when it is skipped."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors

from runner.db.connect import Target
from runner.db.migrate import migrate
from runner.db.sqlfiles import bootstrap_file, migration_files

pytestmark = pytest.mark.db


def _one(url: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0] if len(row) == 1 else row


def _catalog(url: str) -> list[tuple[Any, ...]]:
    """Names and definitions of everything in the schemas the SQL files create."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select 'rel', n.nspname, c.relname, c.relkind::text from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in ('public', 'private', 'auth', 'realtime') "
            "union all select 'fn', n.nspname, p.oid::regprocedure::text, md5(p.prosrc) from "
            "pg_proc p "
            "join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname in ('public', 'private', 'auth', 'realtime') "
            "union all select 'policy', schemaname, tablename || '.' || policyname, "
            "md5(coalesce(qual, '') || coalesce(with_check, '')) from pg_policies "
            "union all select 'trigger', tgrelid::regclass::text, tgname, tgtype::text "
            "from pg_trigger where not tgisinternal "
            "order by 1, 2, 3"
        ).fetchall()


def test_roles_have_supabase_attributes(migrated_db: str) -> None:
    """API roles cannot log in, service_role bypasses RLS, authenticator may become each."""
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select rolname, rolcanlogin, rolinherit, rolbypassrls, rolsuper from pg_roles "
            "where rolname in ('anon', 'authenticated', 'service_role', 'authenticator') order by 1"
        ).fetchall()
        granted = conn.execute(
            "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
            "where m.member = 'authenticator'::regrole order by 1"
        ).fetchall()
    assert rows == [
        ("anon", False, False, False, False),
        ("authenticated", False, False, False, False),
        ("authenticator", True, False, False, False),
        ("service_role", False, False, True, False),
    ]
    assert granted == [("anon",), ("authenticated",), ("service_role",)]


def test_auth_helpers_read_the_request_claims(migrated_db: str) -> None:
    """auth.uid/role/email/jwt read request.jwt.claims; legacy request.jwt.claim.sub wins."""
    uid, legacy = uuid.uuid4(), uuid.uuid4()
    claims = {
        "sub": str(uid),
        "role": "authenticated",
        "email": "a@example.test",
        "aud": "authenticated",
    }
    with psycopg.connect(migrated_db) as conn:
        empty = conn.execute("select auth.uid(), auth.role(), auth.email(), auth.jwt()").fetchone()
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        got = conn.execute("select auth.uid(), auth.role(), auth.email(), auth.jwt()").fetchone()
        conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(legacy),))
        overridden = conn.execute("select auth.uid()").fetchone()
    assert empty == (None, None, None, None)
    assert got == (uid, "authenticated", "a@example.test", claims)
    assert overridden == (legacy,)


def test_realtime_send_stores_and_announces_a_broadcast(migrated_db: str) -> None:
    """realtime.send inserts a private broadcast carrying its id and NOTIFYs realtime_messages."""
    with psycopg.connect(migrated_db, autocommit=True) as listener:
        listener.execute("listen realtime_messages")
        with psycopg.connect(migrated_db) as conn:
            conn.execute(
                "select realtime.send('{\"n\": 1}', 'result', 'run:42'), "
                "realtime.send('{\"id\": \"mine\"}', 'e', 'public-topic', false)"
            )
            rows = conn.execute(
                "select id, topic, event, extension, private, payload from realtime.messages "
                "order by topic"
            ).fetchall()
        notes = [n.payload for n in listener.notifies(timeout=10, stop_after=2)]
    (public_id, *public), (run_id, *run) = rows
    assert public == ["public-topic", "e", "broadcast", False, {"id": "mine"}]
    assert run == ["run:42", "result", "broadcast", True, {"n": 1, "id": str(run_id)}]
    assert sorted(notes) == sorted([str(public_id), str(run_id)])


def test_realtime_send_never_breaks_the_caller(migrated_db: str) -> None:
    """A send refused by RLS (no insert policy) only warns; the calling transaction goes on."""
    with psycopg.connect(migrated_db) as conn:
        conn.execute("select set_config('role', 'authenticated', true)")
        conn.execute("select realtime.send('{}', 'e', 'run:1')")
        assert conn.execute("select 1").fetchone() == (1,)
        conn.rollback()
        assert conn.execute("select count(*) from realtime.messages").fetchone() == (0,)


def test_broadcast_changes_payload_shape(migrated_db: str) -> None:
    """broadcast_changes sends {old_record, record, operation, table, schema} on the topic."""
    with psycopg.connect(migrated_db) as conn:
        conn.execute("create table public.tmp_items (id int primary key, name text)")
        conn.execute(
            "create function public.tmp_items_changed() returns trigger language plpgsql as $$ "
            "begin perform realtime.broadcast_changes('items:' || coalesce(new.id, old.id), tg_op, "
            "tg_op, tg_table_name, tg_table_schema, new, old); return null; end $$"
        )
        conn.execute(
            "create trigger t after insert or update or delete on public.tmp_items "
            "for each row execute function public.tmp_items_changed()"
        )
        conn.execute("insert into public.tmp_items values (1, 'a')")
        conn.execute("update public.tmp_items set name = 'b'")
        rows = conn.execute(
            "select topic, event, private, payload - 'id' from realtime.messages order by "
            "inserted_at, event"
        ).fetchall()
        statement = conn.execute("select 1").fetchone()
        with pytest.raises(errors.RaiseException, match="for each row"):
            conn.execute(
                "select realtime.broadcast_changes('t', 'e', 'INSERT', 'x', 'public', "
                "null::record, "
                "null::record, 'STATEMENT')"
            )
    assert statement == (1,)
    assert sorted(rows, key=lambda r: r[1]) == [
        (
            "items:1",
            "INSERT",
            True,
            {
                "old_record": None,
                "record": {"id": 1, "name": "a"},
                "operation": "INSERT",
                "table": "tmp_items",
                "schema": "public",
            },
        ),
        (
            "items:1",
            "UPDATE",
            True,
            {
                "old_record": {"id": 1, "name": "a"},
                "record": {"id": 1, "name": "b"},
                "operation": "UPDATE",
                "table": "tmp_items",
                "schema": "public",
            },
        ),
    ]


def test_realtime_signatures_match_supabase(migrated_db: str) -> None:
    """realtime.topic/send/broadcast_changes have Supabase's argument lists and defaults."""
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select p.proname, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid) "
            "from pg_proc p where p.pronamespace = 'realtime'::regnamespace "
            "and p.proname in ('topic', 'send', 'broadcast_changes') order by 1"
        ).fetchall()
        topic = conn.execute(
            "select set_config('realtime.topic', 'run:7', true), realtime.topic()"
        ).fetchone()
        rls = conn.execute(
            "select relrowsecurity from pg_class where oid = 'realtime.messages'::regclass"
        ).fetchone()
        publication = conn.execute(
            "select count(*) from pg_publication where pubname = 'supabase_realtime'"
        ).fetchone()
    assert rows == [
        (
            "broadcast_changes",
            "topic_name text, event_name text, operation text, table_name text, table_schema text, "
            "new record, old record, level text DEFAULT 'ROW'::text",
            "void",
        ),
        ("send", "payload jsonb, event text, topic text, private boolean DEFAULT true", "void"),
        ("topic", "", "text"),
    ]
    assert topic == ("run:7", "run:7")
    assert rls == (True,)
    assert publication == (1,)


async def test_bootstrap_is_skipped_where_auth_exists(bare_db: str) -> None:
    """A second migrate neither bootstraps nor applies anything; the catalog is unchanged."""
    target = Target(bare_db, embedded=True)
    first = await migrate(target)
    before = _catalog(bare_db)
    second = await migrate(target)
    assert first.bootstrapped and not second.bootstrapped
    assert second.applied == []
    assert _catalog(bare_db) == before


def test_bootstrap_runs_in_a_cluster_that_already_has_the_roles(
    bare_db: str, migrated_db: str
) -> None:
    """Roles are cluster-wide: the bootstrap applies to a database whose cluster has them."""
    assert _one(migrated_db, "select count(*) from pg_roles where rolname = 'service_role'") == 1
    with psycopg.connect(bare_db) as conn:
        conn.execute(bootstrap_file().read_text(encoding="utf-8"))
    assert (
        _one(bare_db, "select count(*) from pg_namespace where nspname in ('auth', 'realtime')")
        == 2
    )


def test_migrations_use_only_what_supabase_has(migrated_db: str) -> None:
    """The migrations refer to no bootstrap-only object, so they run unchanged on Supabase."""
    local_only = [
        "realtime.notify_message",
        "realtime_messages",
        "auth.sessions",
        "auth.identities",
        "auth.refresh_tokens",
        "authenticator",
    ]
    for path in migration_files():
        text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        for name in local_only:
            assert name not in text, f"{path.name} uses {name}, which only the local bootstrap has"
