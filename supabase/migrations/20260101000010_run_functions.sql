-- Writes that must be validated go through these functions, so the direct Postgres
-- path and the REST path (RPC) share one implementation and one set of rules.
--
-- They live in `public` (callable as /rest/v1/rpc/<name>) and are SECURITY DEFINER
-- with an empty search_path, because they write tables users cannot write. Each
-- one first checks that the caller may act on the run: the system (service_role,
-- superuser, BYPASSRLS) always; an authenticated user only as editor, admin or
-- owner of the run's organisation. Refusals raise SQLSTATE 42501
-- (insufficient_privilege), whether the run is foreign or does not exist, so run
-- ids cannot be probed.

-- The run, if the caller may write to it; raises otherwise.
create function private.writable_run(p_run_id uuid) returns public.test_runs
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs;
begin
    select * into v_run from public.test_runs where id = p_run_id;
    if private.caller_is_system() then
        if v_run.id is null then
            raise exception using errcode = 'no_data_found',
                message = pg_catalog.format('run %s does not exist', p_run_id);
        end if;
        return v_run;
    end if;
    if v_run.id is null or not private.is_org_member(v_run.organization_id, 'editor') then
        raise exception using
            errcode = 'insufficient_privilege',
            message = pg_catalog.format('not allowed to write to run %s', p_run_id),
            hint = 'Editors, admins and owners of the run''s organisation, or the service role, may.';
    end if;
    return v_run;
end;
$$;
comment on function private.writable_run(uuid) is
    'The run if the caller (system, or editor+ of its organisation) may write to it; else raises 42501.';
revoke execute on function private.writable_run(uuid) from public;

-- --------------------------------------------------------------- init_run_context
create function public.init_run_context(
    p_run_id uuid,
    p_test_order jsonb default '[]'::jsonb,
    p_ttl interval default interval '24 hours'
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
    v_order jsonb := coalesce(p_test_order, '[]'::jsonb);
    v_id uuid;
begin
    if pg_catalog.jsonb_typeof(v_order) <> 'array' then
        raise exception using errcode = 'invalid_parameter_value',
            message = 'p_test_order must be a JSON array of test keys';
    end if;
    if p_ttl is not null and p_ttl <= interval '0' then
        raise exception using errcode = 'invalid_parameter_value', message = 'p_ttl must be positive';
    end if;
    -- Idempotent: a second call returns the same context. The order is only filled
    -- in if the context was created earlier without one (by a merge).
    insert into public.test_execution_context as c
        (run_id, organization_id, project_id, test_order, expires_at)
    values (v_run.id, v_run.organization_id, v_run.project_id, v_order,
            pg_catalog.now() + coalesce(p_ttl, interval '24 hours'))
    on conflict (run_id) do update
        set test_order = case when c.test_order = '[]'::jsonb then excluded.test_order else c.test_order end
    returning c.id into v_id;
    return v_id;
end;
$$;
comment on function public.init_run_context(uuid, jsonb, interval) is
    'Create the execution context of a run (idempotent: returns the existing id). Editors+ or the system.';

-- ----------------------------------------------------------- merge_captured_data
-- One INSERT ... ON CONFLICT DO UPDATE: the row lock serialises concurrent merges
-- and each one re-reads the latest captured_data, so no merge loses another's keys.
create function public.merge_captured_data(p_run_id uuid, p_test_key text, p_data jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
begin
    if p_test_key is null or p_test_key = '' then
        raise exception using errcode = 'invalid_parameter_value', message = 'p_test_key is required';
    end if;
    if p_data is null or pg_catalog.jsonb_typeof(p_data) <> 'object' then
        raise exception using errcode = 'invalid_parameter_value', message = 'p_data must be a JSON object';
    end if;
    insert into public.test_execution_context as c (run_id, organization_id, project_id, captured_data)
    values (v_run.id, v_run.organization_id, v_run.project_id,
            pg_catalog.jsonb_build_object(p_test_key, p_data))
    on conflict (run_id) do update
        set captured_data = c.captured_data || pg_catalog.jsonb_build_object(
                p_test_key,
                case when pg_catalog.jsonb_typeof(c.captured_data -> p_test_key) = 'object'
                     then c.captured_data -> p_test_key
                     else '{}'::jsonb end
                || p_data),
            updated_at = pg_catalog.now();
end;
$$;
comment on function public.merge_captured_data(uuid, text, jsonb) is
    'Merge p_data into captured_data->p_test_key atomically (creates the context if needed). Editors+ or the system.';

-- --------------------------------------------------------- set_shared_auth_token
create function public.set_shared_auth_token(p_run_id uuid, p_name text, p_token text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
begin
    if p_name is null or p_name = '' then
        raise exception using errcode = 'invalid_parameter_value', message = 'p_name is required';
    end if;
    -- a null token removes the name
    insert into public.test_execution_context as c (run_id, organization_id, project_id, shared_auth_tokens)
    values (v_run.id, v_run.organization_id, v_run.project_id,
            pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(p_name, p_token)))
    on conflict (run_id) do update
        set shared_auth_tokens = case when p_token is null
                                      then c.shared_auth_tokens - p_name
                                      else c.shared_auth_tokens || pg_catalog.jsonb_build_object(p_name, p_token) end,
            updated_at = pg_catalog.now();
end;
$$;
comment on function public.set_shared_auth_token(uuid, text, text) is
    'Set (or, with a null token, remove) shared_auth_tokens[p_name]. Store ciphertext or a redaction, '
    'never a plaintext token. Editors+ or the system.';

-- ---------------------------------------------------------- set_shared_variables
create function public.set_shared_variables(p_run_id uuid, p_vars jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
begin
    if p_vars is null or pg_catalog.jsonb_typeof(p_vars) <> 'object' then
        raise exception using errcode = 'invalid_parameter_value', message = 'p_vars must be a JSON object';
    end if;
    insert into public.test_execution_context as c (run_id, organization_id, project_id, shared_variables)
    values (v_run.id, v_run.organization_id, v_run.project_id, p_vars)
    on conflict (run_id) do update
        set shared_variables = c.shared_variables || p_vars,
            updated_at = pg_catalog.now();
end;
$$;
comment on function public.set_shared_variables(uuid, jsonb) is
    'Merge p_vars into shared_variables (top-level keys replaced). Editors+ or the system.';

-- ------------------------------------------------------ cleanup_expired_contexts
create function public.cleanup_expired_contexts() returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_count integer;
begin
    if not private.caller_is_system() then
        raise exception using errcode = 'insufficient_privilege',
            message = 'only the service role may clean up contexts';
    end if;
    delete from public.test_execution_context where expires_at < pg_catalog.now();
    get diagnostics v_count = row_count;
    return v_count;
end;
$$;
comment on function public.cleanup_expired_contexts() is
    'Delete execution contexts whose expires_at has passed; returns how many. Service role only.';

-- ---------------------------------------------------------------- record_results
-- Set-based: one INSERT for the results and one per kind of detail, joined through
-- data-modifying CTEs, whatever the batch size. Idempotent per (run, test_key): a
-- batch replayed after a lost acknowledgement inserts nothing twice (and returns 0
-- for the rows already there).
create function public.record_results(p_run_id uuid, p_results jsonb) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
    v_count integer;
begin
    if p_results is null or pg_catalog.jsonb_typeof(p_results) <> 'array' then
        raise exception using errcode = 'invalid_parameter_value', message = 'p_results must be a JSON array';
    end if;

    with input as materialized (
        select pg_catalog.gen_random_uuid() as id, e.ord, e.r
          from pg_catalog.jsonb_array_elements(p_results) with ordinality as e (r, ord)
    ),
    inserted as (
        insert into public.test_results as t (
            id, run_id, organization_id, project_id, environment_id, test_case_id,
            test_key, name, row_index, status, error_category, message,
            started_at, finished_at, response_time_ms, status_code,
            passed_after_retry, attempt_count, request_snapshot, response_snapshot, captured
        )
        select
            i.id, v_run.id, v_run.organization_id, v_run.project_id, v_run.environment_id,
            (i.r ->> 'test_case_id')::uuid,
            i.r ->> 'test_key',
            coalesce(nullif(i.r ->> 'name', ''), i.r ->> 'test_key'),
            (i.r ->> 'row_index')::integer,
            i.r ->> 'status',
            i.r ->> 'error_category',
            coalesce(i.r ->> 'message', ''),
            (i.r ->> 'started_at')::timestamptz,
            (i.r ->> 'finished_at')::timestamptz,
            (i.r ->> 'response_time_ms')::double precision,
            (i.r ->> 'status_code')::integer,
            coalesce((i.r ->> 'passed_after_retry')::boolean, false),
            case when pg_catalog.jsonb_typeof(i.r -> 'attempts') = 'array'
                 then pg_catalog.jsonb_array_length(i.r -> 'attempts') else 0 end,
            nullif(i.r -> 'request', 'null'::jsonb),
            nullif(i.r -> 'response', 'null'::jsonb),
            coalesce(nullif(i.r -> 'captured', 'null'::jsonb), '{}'::jsonb)
          from input as i
         order by i.ord
        on conflict (run_id, test_key) do nothing
        returning t.id
    ),
    checks as (
        insert into public.test_result_details
            (result_id, organization_id, kind, ordinal, name, passed, expected, actual, message)
        select i.id, v_run.organization_id, 'assertion', c.ord,
               c.v ->> 'name', (c.v ->> 'passed')::boolean, c.v -> 'expected', c.v -> 'actual',
               coalesce(c.v ->> 'message', '')
          from inserted as ins
          join input as i on i.id = ins.id
         cross join lateral pg_catalog.jsonb_array_elements(
                case when pg_catalog.jsonb_typeof(i.r -> 'checks') = 'array'
                     then i.r -> 'checks' else '[]'::jsonb end
               ) with ordinality as c (v, ord)
    ),
    attempts as (
        insert into public.test_result_details
            (result_id, organization_id, kind, ordinal, started_at, duration_ms, status_code,
             error_category, error)
        select i.id, v_run.organization_id, 'attempt',
               coalesce((a.v ->> 'number')::integer, a.ord::integer),
               (a.v ->> 'started_at')::timestamptz, (a.v ->> 'duration_ms')::double precision,
               (a.v ->> 'status_code')::integer, a.v ->> 'error_category', a.v ->> 'error'
          from inserted as ins
          join input as i on i.id = ins.id
         cross join lateral pg_catalog.jsonb_array_elements(
                case when pg_catalog.jsonb_typeof(i.r -> 'attempts') = 'array'
                     then i.r -> 'attempts' else '[]'::jsonb end
               ) with ordinality as a (v, ord)
    )
    select pg_catalog.count(*)::integer into v_count from inserted;
    return v_count;
end;
$$;
comment on function public.record_results(uuid, jsonb) is
    'Insert a batch of results with their checks and attempts (JSON array; see docs/security.md). '
    'Skips test keys already recorded for the run; returns the number inserted. Editors+ or the system.';

-- ---------------------------------------------------------------------- finish_run
create function public.finish_run(p_run_id uuid, p_status text) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
begin
    if p_status is null or p_status not in ('passed', 'failed', 'interrupted', 'error') then
        raise exception using errcode = 'invalid_parameter_value',
            message = pg_catalog.format('p_status must be passed, failed, interrupted or error, not %s',
                                        coalesce(p_status, 'null'));
    end if;
    if v_run.status <> 'running' then
        if v_run.status = p_status then
            return;  -- finishing twice the same way is a no-op
        end if;
        raise exception using errcode = 'object_not_in_prerequisite_state',
            message = pg_catalog.format('run %s already finished as %s', p_run_id, v_run.status);
    end if;
    -- finished_at and duration_ms are filled by the finish_times trigger
    update public.test_runs set status = p_status where id = p_run_id;
end;
$$;
comment on function public.finish_run(uuid, text) is
    'Finish a running run: status, finished_at, duration_ms (repeating the same status is a no-op). '
    'Editors+ or the system.';

-- ------------------------------------------------------------ environment_secrets
create function public.environment_secrets(p_environment_id uuid)
returns table (name text, encrypted_value bytea, key_id text)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_org uuid;
begin
    select e.organization_id into v_org from public.environments as e where e.id = p_environment_id;
    if not private.caller_is_system()
       and (v_org is null or not private.is_org_member(v_org, 'admin')) then
        raise exception using errcode = 'insufficient_privilege',
            message = pg_catalog.format('not allowed to read the secrets of environment %s', p_environment_id);
    end if;
    return query
        select v.name, v.encrypted_value, v.key_id
          from public.environment_variables as v
         where v.environment_id = p_environment_id and v.is_secret
         order by v.name;
end;
$$;
comment on function public.environment_secrets(uuid) is
    'Ciphertext of an environment''s secret variables. Admins and owners of its organisation, or the system.';

-- ------------------------------------------------------------------------ grants
-- Supabase grants EXECUTE on new public functions to anon by default: take it back.
revoke execute on function
    public.init_run_context(uuid, jsonb, interval),
    public.merge_captured_data(uuid, text, jsonb),
    public.set_shared_auth_token(uuid, text, text),
    public.set_shared_variables(uuid, jsonb),
    public.cleanup_expired_contexts(),
    public.record_results(uuid, jsonb),
    public.finish_run(uuid, text),
    public.environment_secrets(uuid)
    from public, anon, authenticated, service_role;
grant execute on function
    public.init_run_context(uuid, jsonb, interval),
    public.merge_captured_data(uuid, text, jsonb),
    public.set_shared_auth_token(uuid, text, text),
    public.set_shared_variables(uuid, jsonb),
    public.record_results(uuid, jsonb),
    public.finish_run(uuid, text),
    public.environment_secrets(uuid)
    to authenticated, service_role;
grant execute on function public.cleanup_expired_contexts() to service_role;
