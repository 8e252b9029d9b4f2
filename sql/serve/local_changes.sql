-- Local change capture for postgres_changes subscribers of `python -m runner serve`.
--
-- NOT a migration, and never applied to hosted Supabase: there, the Realtime server
-- reads changes from the write-ahead log. `serve` applies this file at start only when
-- the database is the local compatibility stack (realtime.notify_message() from the
-- bootstrap exists and realtime.subscription, which real Supabase has, does not).
-- Idempotent: it may run at every start, from several processes.
--
-- A row trigger on every table of the supabase_realtime publication records each
-- change (table, type, new and old row as jsonb, timestamp) into an unlogged table and
-- NOTIFYs `realtime_local_changes` with the change id only (NOTIFY payloads are
-- limited to 8000 bytes; rows are not). serve reads the rows by id and prunes old ones.

select pg_catalog.pg_advisory_xact_lock(4242001);

create unlogged table if not exists realtime.local_changes (
    id bigint generated always as identity primary key,
    schema_name text not null,
    table_name text not null,
    type text not null check (type in ('INSERT', 'UPDATE', 'DELETE')),
    record jsonb,
    old_record jsonb,
    commit_timestamp timestamptz not null default pg_catalog.clock_timestamp()
);
comment on table realtime.local_changes is
    'Local only (serve): row changes of published tables, read by the local Realtime server.';
create index if not exists local_changes_commit_timestamp_idx
    on realtime.local_changes (commit_timestamp);
-- only serve (the owner) reads it; no API role has any privilege or policy
alter table realtime.local_changes enable row level security;
revoke all on realtime.local_changes from public, anon, authenticated, service_role;

-- security definer: the trigger runs as whoever changed the row (anon, authenticated),
-- who may not write realtime.local_changes
create or replace function realtime.local_capture_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    change_id bigint;
begin
    insert into realtime.local_changes (schema_name, table_name, type, record, old_record)
    values (
        tg_table_schema,
        tg_table_name,
        tg_op,
        case when tg_op <> 'DELETE' then pg_catalog.to_jsonb(new) end,
        case when tg_op <> 'INSERT' then pg_catalog.to_jsonb(old) end
    )
    returning id into change_id;
    perform pg_catalog.pg_notify('realtime_local_changes', change_id::text);
    return null;
end;
$$;
comment on function realtime.local_capture_change() is
    'Local only (serve): AFTER row trigger recording a change for postgres_changes subscribers.';
revoke execute on function realtime.local_capture_change() from public;

-- Puts the capture trigger on every published table that lacks it and takes it off
-- tables that left the publication. serve calls it at start and when a client
-- subscribes to postgres_changes (a table may have been published since).
create or replace function realtime.local_sync_change_triggers() returns void
language plpgsql
set search_path = ''
as $$
declare
    item record;
begin
    perform pg_catalog.pg_advisory_xact_lock(4242002);
    for item in
        select p.schemaname, p.tablename
        from pg_catalog.pg_publication_tables p
        join pg_catalog.pg_namespace n on n.nspname = p.schemaname
        join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
        where p.pubname = 'supabase_realtime'
          and not exists (
              select 1 from pg_catalog.pg_trigger t
              where t.tgrelid = c.oid and t.tgname = 'realtime_local_changes'
          )
    loop
        execute pg_catalog.format(
            'create trigger realtime_local_changes after insert or update or delete on %I.%I '
            'for each row execute function realtime.local_capture_change()',
            item.schemaname, item.tablename
        );
    end loop;
    for item in
        select n.nspname as schemaname, c.relname as tablename
        from pg_catalog.pg_trigger t
        join pg_catalog.pg_class c on c.oid = t.tgrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where t.tgname = 'realtime_local_changes'
          and not exists (
              select 1 from pg_catalog.pg_publication_tables p
              where p.pubname = 'supabase_realtime'
                and p.schemaname = n.nspname and p.tablename = c.relname
          )
    loop
        execute pg_catalog.format(
            'drop trigger realtime_local_changes on %I.%I', item.schemaname, item.tablename
        );
    end loop;
end;
$$;
comment on function realtime.local_sync_change_triggers() is
    'Local only (serve): keep the change capture trigger on exactly the supabase_realtime tables.';
revoke execute on function realtime.local_sync_change_triggers() from public;

select realtime.local_sync_change_triggers();
