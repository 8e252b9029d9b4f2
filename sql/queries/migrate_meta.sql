-- The migrator's own bookkeeping (not exposed over the API).
create schema if not exists runner_meta;
comment on schema runner_meta is
    'Bookkeeping of the runner''s migrator (not exposed over the API).';
create table if not exists runner_meta.schema_migrations (
    version text primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
);
