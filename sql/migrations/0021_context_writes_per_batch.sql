-- Context writes that cost what the batch costs, not what the context holds.
--
-- Measured on a 10,001-test run with 2,501 captures (docs/performance.md): of the
-- database's ~5 s, 1.5 s went to context_updated and to the WHEN clauses of
-- 0012's context triggers. Each batch wrote the context row three times
-- (tests_started and broadcast_results change running_tests, merge_captured_data_many
-- merges captures), and each time the triggers compared the whole captured_data
-- (detoasting it twice) or diffed it key by key with private.jsonb_key_changes: the
-- run's cost grew with the square of its captures.
--
-- Now:
--   * A writer whose UPDATE of test_execution_context cannot change captured_data,
--     shared_variables or shared_auth_tokens (tests_started, broadcast_results: they
--     touch running_tests only), or that sends the context_updated event itself, sets
--     the transaction-local setting runner.context_event = 'skip' around the UPDATE
--     and clears it after; the context triggers' WHEN clauses test it first, so the
--     comparison is not even made. Any other writer (REST, SQL by hand, the other
--     context functions) still gets the full comparison of 0012.
--   * merge_captured_data_many checks, with one ?| on the current document, whether
--     any key of the batch is already there. Usually none is (a test's captures are
--     merged once per run): then the changed names are exactly the batch's keys and
--     their value names, and the function sends context_updated itself, with the same
--     payload 0012's trigger would build. When some key exists, the trigger diffs as
--     before.
--   * The daily metrics recomputation at the end of a run (0013) reads every result
--     of the day for the run's test cases; a covering index lets it read them from
--     the index instead of fetching each wide row from the heap.

-- ---------------------------------------------------------------- tests_started
-- As in 0012; its UPDATE of running_tests is marked 'skip' for the context triggers.
create or replace function public.tests_started(p_run_id uuid, p_test_keys text[]) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
    v_keys text[];
    v_n integer;
    v_base bigint;
    v_at text;
begin
    if p_test_keys is null then
        raise exception using errcode = 'invalid_parameter_value', message = 'p_test_keys is required';
    end if;
    if exists (select 1 from pg_catalog.unnest(p_test_keys) as k
                where k is null or pg_catalog.char_length(k) not between 1 and 500) then
        raise exception using errcode = 'invalid_parameter_value',
            message = 'each test key must be 1 to 500 characters';
    end if;
    -- each key once, in the order given
    v_keys := array(select u.k from pg_catalog.unnest(p_test_keys) with ordinality as u (k, o)
                     group by u.k order by pg_catalog.min(u.o));
    v_n := pg_catalog.cardinality(v_keys);
    if v_n = 0 then
        return 0;
    end if;
    -- the status is re-checked under the row lock: a run finished meanwhile (by a
    -- writer we waited for) gets no event after its run_completed
    update public.test_runs set event_seq = event_seq + v_n
     where id = v_run.id and status = 'running'
    returning event_seq - v_n into v_base;
    if v_base is null then
        return 0;
    end if;
    v_at := private.utc_iso(pg_catalog.clock_timestamp());
    begin
        insert into realtime.messages (id, topic, extension, event, private, payload)
        select e.id, 'run:' || v_run.id::text, 'broadcast', 'test_started', true,
               pg_catalog.jsonb_build_object('type', 'test_started', 'run_id', v_run.id,
                                             'seq', v_base + e.o, 'at', v_at, 'id', e.id,
                                             'test_key', e.k)
          from (select pg_catalog.gen_random_uuid() as id, u.k, u.o
                  from pg_catalog.unnest(v_keys) with ordinality as u (k, o)) as e
         order by e.o;
    exception
        when others then
            raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
    end;
    perform pg_catalog.set_config('runner.context_event', 'skip', true);
    insert into public.test_execution_context as c (run_id, organization_id, project_id, running_tests)
    values (v_run.id, v_run.organization_id, v_run.project_id, pg_catalog.to_jsonb(v_keys))
    on conflict (run_id) do update
        set running_tests = (c.running_tests - v_keys) || pg_catalog.to_jsonb(v_keys);
    perform pg_catalog.set_config('runner.context_event', '', true);
    return v_n;
end;
$$;

-- ------------------------------------------------------------ broadcast_results
-- As in 0012; its UPDATE of running_tests is marked 'skip' for the context triggers.
create or replace function private.broadcast_results() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run record;
    v_base bigint;
    -- one time for the batch; the payload is built inline (no helper calls per row)
    v_at text := private.utc_iso(pg_catalog.clock_timestamp());
begin
    for v_run in
        select n.run_id, pg_catalog.count(*) as n, pg_catalog.array_agg(n.test_key) as keys
          from new_results as n
         group by n.run_id
         order by n.run_id  -- a fixed lock order: two batches cannot deadlock
    loop
        update public.test_runs set event_seq = event_seq + v_run.n where id = v_run.run_id
        returning event_seq - v_run.n into v_base;
        begin
            insert into realtime.messages (id, topic, extension, event, private, payload)
            select e.id, 'run:' || v_run.run_id::text, 'broadcast', e.type, true,
                   pg_catalog.jsonb_build_object(
                       'type', e.type,
                       'run_id', v_run.run_id,
                       'seq', v_base + e.i,
                       'at', v_at,
                       'id', e.id,
                       'result_id', e.result_id,
                       'test_key', e.test_key,
                       'test_case_id', e.test_case_id,
                       'name', e.name,
                       'row_index', e.row_index,
                       'status', e.status,
                       'error_category', e.error_category,
                       'message', pg_catalog.left(e.message, 300),
                       'status_code', e.status_code,
                       'response_time_ms', e.response_time_ms,
                       'attempt_count', e.attempt_count,
                       'passed_after_retry', e.passed_after_retry,
                       -- private.utc_iso, inline
                       'started_at', pg_catalog.to_char(e.started_at at time zone 'UTC',
                                                        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                       'finished_at', pg_catalog.to_char(e.finished_at at time zone 'UTC',
                                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
              from (
                select pg_catalog.gen_random_uuid() as id,
                       pg_catalog.row_number() over (
                           order by coalesce(n.finished_at, n.started_at, n.created_at), n.test_key) as i,
                       case n.status when 'passed' then 'test_completed'
                                     when 'skipped' then 'test_skipped'
                                     else 'test_failed' end as type,
                       n.id as result_id, n.test_key, n.test_case_id, n.name, n.row_index, n.status,
                       n.error_category, n.message, n.status_code, n.response_time_ms,
                       n.attempt_count, n.passed_after_retry, n.started_at, n.finished_at
                  from new_results as n
                 where n.run_id = v_run.run_id
              ) as e
             order by e.i;
        exception
            when others then
                raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
        end;
        -- recorded tests are no longer running
        perform pg_catalog.set_config('runner.context_event', 'skip', true);
        update public.test_execution_context as c
           set running_tests = c.running_tests - v_run.keys
         where c.run_id = v_run.run_id and c.running_tests ?| v_run.keys;
        perform pg_catalog.set_config('runner.context_event', '', true);
    end loop;
    return null;
end;
$$;

-- ------------------------------------------------------- merge_captured_data_many
create or replace function public.merge_captured_data_many(p_run_id uuid, p_data jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
    v_old jsonb;
    v_keys text[];
    v_captured jsonb;
begin
    if p_data is null or pg_catalog.jsonb_typeof(p_data) <> 'object' then
        raise exception using errcode = 'invalid_parameter_value',
            message = 'p_data must be a JSON object of test key -> object';
    end if;
    if exists (select 1 from pg_catalog.jsonb_each(p_data) as e
                where e.key = '' or pg_catalog.jsonb_typeof(e.value) <> 'object') then
        raise exception using errcode = 'invalid_parameter_value',
            message = 'p_data must map non-empty test keys to JSON objects';
    end if;
    if p_data = '{}'::jsonb then
        return;
    end if;
    -- the row lock keeps the document as read here until this transaction ends
    select c.captured_data into v_old
      from public.test_execution_context as c
     where c.run_id = v_run.id
       for update;
    v_keys := array(select pg_catalog.jsonb_object_keys(p_data));
    if v_old is null or not (v_old ?| v_keys) then
        -- every key is new: what changed is the batch itself (the names only)
        select pg_catalog.jsonb_object_agg(e.key, (
                   select coalesce(pg_catalog.jsonb_agg(k.k order by k.k), '[]'::jsonb)
                     from pg_catalog.jsonb_object_keys(e.value) as k (k)))
          into v_captured
          from pg_catalog.jsonb_each(p_data) as e;
        perform pg_catalog.set_config('runner.context_event', 'skip', true);
    end if;
    insert into public.test_execution_context as c (run_id, organization_id, project_id, captured_data)
    values (v_run.id, v_run.organization_id, v_run.project_id, p_data)
    on conflict (run_id) do update
        set captured_data = c.captured_data || (
                select pg_catalog.jsonb_object_agg(
                           e.key,
                           case when pg_catalog.jsonb_typeof(c.captured_data -> e.key) = 'object'
                                then c.captured_data -> e.key
                                else '{}'::jsonb end
                           || e.value)
                  from pg_catalog.jsonb_each(p_data) as e),
            updated_at = pg_catalog.now();
    if v_captured is not null then
        perform pg_catalog.set_config('runner.context_event', '', true);
        perform private.emit_run_event(v_run.id, 'context_updated', pg_catalog.jsonb_build_object(
            'captured', v_captured,
            'variables', '[]'::jsonb,
            'tokens', '[]'::jsonb,
            'removed', pg_catalog.jsonb_build_object(
                'captured', '[]'::jsonb, 'variables', '[]'::jsonb, 'tokens', '[]'::jsonb)));
    end if;
end;
$$;
comment on function public.merge_captured_data_many(uuid, jsonb) is
    'Merge p_data ({test key: object}) into captured_data in one atomic statement, like one '
    'merge_captured_data call per key. Editors+ or the system. When no key of p_data is in the '
    'context yet, sends context_updated itself (0021), without diffing the document.';

-- ----------------------------------------------------------- the context triggers
drop trigger broadcast_context_created on public.test_execution_context;
drop trigger broadcast_context_updated on public.test_execution_context;
create trigger broadcast_context_created after insert on public.test_execution_context
    for each row
    when (coalesce(pg_catalog.current_setting('runner.context_event', true), '') <> 'skip'
          and (new.captured_data <> '{}'::jsonb or new.shared_variables <> '{}'::jsonb
               or new.shared_auth_tokens <> '{}'::jsonb))
    execute function private.broadcast_context_change();
create trigger broadcast_context_updated after update on public.test_execution_context
    for each row
    when (coalesce(pg_catalog.current_setting('runner.context_event', true), '') <> 'skip'
          and (old.captured_data is distinct from new.captured_data
               or old.shared_variables is distinct from new.shared_variables
               or old.shared_auth_tokens is distinct from new.shared_auth_tokens))
    execute function private.broadcast_context_change();

-- ------------------------------------------------------- covering metrics index
-- The same key as 0005's index; the included columns are everything
-- recompute_performance_metrics reads of a result, so it can scan the index only.
drop index public.test_results_metrics_group_idx;
create index test_results_metrics_group_idx on public.test_results (
    test_case_id,
    coalesce(environment_id, '00000000-0000-0000-0000-000000000000'::uuid),
    ((coalesce(started_at, created_at) at time zone 'UTC')::date)
) include (environment_id, started_at, created_at, status, response_time_ms, organization_id, project_id)
  where test_case_id is not null;

