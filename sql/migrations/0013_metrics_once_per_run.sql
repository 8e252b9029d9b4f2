-- Recording cost: daily percentiles once per run, captures merged once per batch.
--
-- Measured on a 10,001-test run (docs/performance.md): the database spent 8.4 s in
-- merge_captured_data (one UPDATE per capture, each rewriting the whole, growing
-- captured_data: quadratic in the run's captures) and 0.75 s recomputing the daily
-- percentiles of every batch's groups. Two changes:
--
--   * public.merge_captured_data_many merges the captures of many tests in ONE
--     UPDATE (the runner sends one call per batch). merge_captured_data stays.
--   * The per-batch recomputation of performance_metrics can be deferred to the
--     end of the run: a writer that sets `runner.defer_metrics = on` in its
--     transaction (the runner's PostgresStore does) skips it, and the new trigger
--     refresh_run_metrics recomputes every group of a run once, when the run
--     leaves 'running' (finish_run or a direct status update). Without the setting
--     (REST clients, SQL by hand) every batch still refreshes its groups, exactly
--     as in 0011, so the metrics are never staler than the last finished run.
--     A deferred run that is never finished leaves its groups as they were until
--     another result of the same group is recorded or a run containing it finishes;
--     the results themselves are complete.
-- Both computations share one function, so the numbers are the same whichever path
-- made them (percentile_cont: linear interpolation, as in 0011).

-- ------------------------------------------------------------ shared recomputation
-- Recomputes whole groups from test_results: percentiles cannot be maintained
-- incrementally, and recomputing is always exact. A transaction-scoped advisory lock
-- per group (taken in a fixed order, so two writers cannot deadlock) serialises
-- writers of the same group; the aggregate runs as a new statement after the lock is
-- granted, so under READ COMMITTED it sees every result committed by the writer it
-- waited for.
create function private.recompute_performance_metrics(
    p_test_case_ids uuid[], p_environment_ids uuid[], p_dates date[]
) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform pg_catalog.pg_advisory_xact_lock(g.lock_key)
       from (
        select distinct pg_catalog.hashtextextended(
                   'performance_metrics:' || u.test_case_id::text || ':'
                   || coalesce(u.environment_id::text, '') || ':' || u.metric_date::text,
                   0) as lock_key
          from rows from (pg_catalog.unnest(p_test_case_ids), pg_catalog.unnest(p_environment_ids),
                         pg_catalog.unnest(p_dates))
               as u (test_case_id, environment_id, metric_date)
         order by 1
       ) as g;

    with groups as (
        select distinct u.test_case_id, u.environment_id, u.metric_date
          from rows from (pg_catalog.unnest(p_test_case_ids), pg_catalog.unnest(p_environment_ids),
                         pg_catalog.unnest(p_dates))
               as u (test_case_id, environment_id, metric_date)
    ),
    stats as (
        select g.test_case_id,
               g.environment_id,
               g.metric_date,
               pg_catalog.min(r.organization_id::text)::uuid as organization_id,
               pg_catalog.min(r.project_id::text)::uuid as project_id,
               pg_catalog.count(*)::integer as total_runs,
               (pg_catalog.count(*) filter (where r.status = 'passed'))::integer as successful_runs,
               pg_catalog.avg(r.response_time_ms) as avg_ms,
               pg_catalog.percentile_cont(0.50) within group (order by r.response_time_ms) as p50,
               pg_catalog.percentile_cont(0.95) within group (order by r.response_time_ms) as p95,
               pg_catalog.percentile_cont(0.99) within group (order by r.response_time_ms) as p99,
               pg_catalog.min(r.response_time_ms) as min_ms,
               pg_catalog.max(r.response_time_ms) as max_ms
          from groups as g
          join public.test_results as r
            -- the same expressions as index test_results_metrics_group_idx
            on r.test_case_id = g.test_case_id
           and coalesce(r.environment_id, '00000000-0000-0000-0000-000000000000'::uuid)
             = coalesce(g.environment_id, '00000000-0000-0000-0000-000000000000'::uuid)
           and ((coalesce(r.started_at, r.created_at) at time zone 'UTC')::date) = g.metric_date
         where r.status <> 'skipped'
         group by g.test_case_id, g.environment_id, g.metric_date
    )
    insert into public.performance_metrics as m (
        organization_id, project_id, test_case_id, environment_id, metric_date,
        total_runs, successful_runs, avg_response_ms, p50_response_ms, p95_response_ms,
        p99_response_ms, min_response_ms, max_response_ms, success_rate
    )
    select s.organization_id, s.project_id, s.test_case_id, s.environment_id, s.metric_date,
           s.total_runs, s.successful_runs, s.avg_ms, s.p50, s.p95, s.p99, s.min_ms, s.max_ms,
           s.successful_runs::double precision / nullif(s.total_runs, 0)
      from stats as s
    on conflict (test_case_id, environment_id, metric_date) do update
       set total_runs = excluded.total_runs,
           successful_runs = excluded.successful_runs,
           avg_response_ms = excluded.avg_response_ms,
           p50_response_ms = excluded.p50_response_ms,
           p95_response_ms = excluded.p95_response_ms,
           p99_response_ms = excluded.p99_response_ms,
           min_response_ms = excluded.min_response_ms,
           max_response_ms = excluded.max_response_ms,
           success_rate = excluded.success_rate;
end;
$$;
comment on function private.recompute_performance_metrics(uuid[], uuid[], date[]) is
    'Recompute the performance_metrics rows of the given (test case, environment, UTC day) groups '
    '(three parallel arrays) from test_results, under one advisory lock per group.';

-- ----------------------------------------------------------------- per batch
create or replace function private.refresh_performance_metrics() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_cases uuid[];
    v_environments uuid[];
    v_dates date[];
begin
    -- a writer that finishes its run defers the percentiles to refresh_run_metrics
    if coalesce(pg_catalog.current_setting('runner.defer_metrics', true), '') = 'on' then
        return null;
    end if;
    select pg_catalog.array_agg(g.test_case_id), pg_catalog.array_agg(g.environment_id),
           pg_catalog.array_agg(g.metric_date)
      into v_cases, v_environments, v_dates
      from (
        select distinct n.test_case_id, n.environment_id,
               (coalesce(n.started_at, n.created_at) at time zone 'UTC')::date as metric_date
          from new_results as n
         where n.test_case_id is not null and n.status <> 'skipped'
      ) as g;
    if v_cases is not null then
        perform private.recompute_performance_metrics(v_cases, v_environments, v_dates);
    end if;
    return null;
end;
$$;
comment on function private.refresh_performance_metrics() is
    'AFTER INSERT statement trigger on test_results: recompute the daily metrics groups of the batch, '
    'unless the transaction set runner.defer_metrics = on (then refresh_run_metrics does it once).';

-- ------------------------------------------------------------------ per run
create function private.refresh_run_metrics() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_cases uuid[];
    v_environments uuid[];
    v_dates date[];
begin
    select pg_catalog.array_agg(g.test_case_id), pg_catalog.array_agg(g.environment_id),
           pg_catalog.array_agg(g.metric_date)
      into v_cases, v_environments, v_dates
      from (
        select distinct r.test_case_id, r.environment_id,
               (coalesce(r.started_at, r.created_at) at time zone 'UTC')::date as metric_date
          from public.test_results as r
         where r.run_id = new.id and r.test_case_id is not null and r.status <> 'skipped'
      ) as g;
    if v_cases is not null then
        perform private.recompute_performance_metrics(v_cases, v_environments, v_dates);
    end if;
    return null;
end;
$$;
comment on function private.refresh_run_metrics() is
    'AFTER UPDATE OF status on test_runs (running -> final): recompute, once, the daily metrics '
    'groups of every result of the run.';

-- Named so that it fires before 0014's zz_analyse_finished_run (same event, name
-- order), which reads the day's metrics.
create trigger refresh_run_metrics after update of status on public.test_runs
    for each row when (old.status = 'running' and new.status <> 'running')
    execute function private.refresh_run_metrics();

-- ------------------------------------------------------- merge_captured_data_many
-- One INSERT ... ON CONFLICT DO UPDATE for many test keys: the same result as calling
-- merge_captured_data once per key in order (p_data's values are merged shallowly
-- into the existing object of each key), at the cost of one rewrite of the row.
create function public.merge_captured_data_many(p_run_id uuid, p_data jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
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
end;
$$;
comment on function public.merge_captured_data_many(uuid, jsonb) is
    'Merge p_data ({test key: object}) into captured_data in one atomic statement, like one '
    'merge_captured_data call per key. Editors+ or the system.';

revoke execute on function public.merge_captured_data_many(uuid, jsonb)
    from public, anon, authenticated, service_role;
grant execute on function public.merge_captured_data_many(uuid, jsonb) to authenticated, service_role;

revoke execute on all functions in schema private from public;
