-- Append-only audit log of changes to organisations, membership, configuration and
-- environments. Written only by the trigger below (security definer); nobody, the
-- service role included, can update or delete it: a statement trigger raises. (A
-- superuser can still disable the trigger; retention therefore is a deliberate,
-- owner-only operation.) There are no foreign keys, on purpose: entries outlive
-- the organisation, row and user they describe, and a cascade would be an update.

create table public.audit_log (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid,
    table_name text not null,
    operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
    row_id uuid,
    actor_id uuid,
    actor_role text not null,
    old_data jsonb,
    new_data jsonb,
    created_at timestamptz not null default now(),
    constraint audit_log_data_shape check (
        (operation = 'INSERT' and old_data is null and new_data is not null)
        or (operation = 'UPDATE' and old_data is not null and new_data is not null)
        or (operation = 'DELETE' and old_data is not null and new_data is null)
    )
);
alter table public.audit_log enable row level security;
comment on table public.audit_log is
    'Append-only record of changes to organisations, membership, configuration and environments.';
comment on column public.audit_log.id is 'Primary key.';
comment on column public.audit_log.organization_id is 'Organisation the changed row belongs to (no foreign key: entries outlive it).';
comment on column public.audit_log.table_name is 'Table of the changed row (schema public).';
comment on column public.audit_log.operation is 'INSERT, UPDATE or DELETE.';
comment on column public.audit_log.row_id is 'id of the changed row.';
comment on column public.audit_log.actor_id is 'auth.uid() of the user who made the change (null for the system).';
comment on column public.audit_log.actor_role is 'Database role the change was made as (authenticated, service_role, postgres...).';
comment on column public.audit_log.old_data is 'The row before the change (UPDATE, DELETE); ciphertext columns shown as "[redacted]".';
comment on column public.audit_log.new_data is 'The row after the change (INSERT, UPDATE); ciphertext columns shown as "[redacted]".';
comment on column public.audit_log.created_at is 'When the change was made (transaction time).';
create index audit_log_organization_created_idx on public.audit_log (organization_id, created_at desc);
create index audit_log_row_idx on public.audit_log (table_name, row_id);
create index audit_log_actor_idx on public.audit_log (actor_id);

create function private.audit_log_is_append_only() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception using
        errcode = 'insufficient_privilege',
        message = pg_catalog.format('audit_log is append-only: %s is not allowed', tg_op);
end;
$$;
comment on function private.audit_log_is_append_only() is
    'BEFORE UPDATE/DELETE/TRUNCATE on audit_log (statement level): always raises.';
create trigger append_only before update or delete or truncate on public.audit_log
    for each statement execute function private.audit_log_is_append_only();

-- Ciphertext is not copied into the log: a change to it shows as "[redacted]".
create function private.audit_redact(p_row jsonb) returns jsonb
language sql
immutable
set search_path = ''
as $$
    select coalesce(pg_catalog.jsonb_object_agg(
               e.key,
               case when e.key like 'encrypted\_%' and e.value <> 'null'::jsonb
                    then '"[redacted]"'::jsonb else e.value end),
           '{}'::jsonb)
      from pg_catalog.jsonb_each(p_row) as e
$$;
comment on function private.audit_redact(jsonb) is
    'The row as JSON with encrypted_* values replaced by "[redacted]".';

create function private.audit_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_old jsonb;
    v_new jsonb;
    v_row jsonb;
begin
    if tg_op in ('UPDATE', 'DELETE') then
        v_old := private.audit_redact(pg_catalog.to_jsonb(old));
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        v_new := private.audit_redact(pg_catalog.to_jsonb(new));
    end if;
    v_row := coalesce(v_new, v_old);
    insert into public.audit_log
        (organization_id, table_name, operation, row_id, actor_id, actor_role, old_data, new_data)
    values (
        case when tg_table_name = 'organizations'
             then (v_row ->> 'id')::uuid
             else (v_row ->> 'organization_id')::uuid end,
        tg_table_name,
        tg_op,
        (v_row ->> 'id')::uuid,
        auth.uid(),
        private.caller_role(),
        v_old,
        v_new
    );
    return null;
end;
$$;
comment on function private.audit_change() is
    'AFTER INSERT/UPDATE/DELETE row trigger: append the change to audit_log.';

do $$
declare
    t text;
begin
    foreach t in array array[
        'organizations', 'organization_members',
        'projects', 'test_suites', 'test_cases', 'api_endpoints', 'test_dependencies',
        'test_request_configs', 'test_response_specs', 'test_data_fixtures', 'fixture_usage',
        'environments', 'environment_variables', 'report_templates'
    ] loop
        execute format(
            'create trigger audit_change after insert or update or delete on public.%I '
            'for each row execute function private.audit_change()', t);
    end loop;
end
$$;

revoke execute on all functions in schema private from public;
