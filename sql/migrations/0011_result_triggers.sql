-- Derived data kept current by triggers:
--   * test_runs counters, from each batch of inserted results;
--   * performance_metrics, recomputed for the (test case, environment, UTC day)
--     groups a batch touches;
--   * failure_analysis, counting failed and errored results by fingerprint;
--   * test_run_history, recomputed for the (project, suite, environment, UTC day)
--     group of a run when it finishes.
-- Result triggers are statement-level with a transition table, so a batch of any
-- size costs one UPDATE per run and one recomputation per group, not one per row.
-- Deleting results or runs does not touch the analytics: they are the long-term
-- record that outlives pruned raw data.

-- ------------------------------------------------------------------ run counters
create function private.count_results() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    update public.test_runs as r
       set passed_tests = r.passed_tests + s.passed,
           failed_tests = r.failed_tests + s.failed,
           errored_tests = r.errored_tests + s.errored,
           skipped_tests = r.skipped_tests + s.skipped,
           completed_tests = r.completed_tests + s.completed
      from (
        select n.run_id,
               pg_catalog.count(*) filter (where n.status = 'passed') as passed,
               pg_catalog.count(*) filter (where n.status = 'failed') as failed,
               pg_catalog.count(*) filter (where n.status = 'error') as errored,
               pg_catalog.count(*) filter (where n.status = 'skipped') as skipped,
               pg_catalog.count(*) as completed
          from new_results as n
         group by n.run_id
      ) as s
     where r.id = s.run_id;
    return null;
end;
$$;
comment on function private.count_results() is
    'AFTER INSERT statement trigger on test_results: add the batch to its runs'' counters.';

-- ------------------------------------------------------------ performance metrics
-- Recomputes whole groups from test_results rather than updating running
-- aggregates: percentiles cannot be maintained incrementally, and recomputing is
-- always exact. A transaction-scoped advisory lock per group (taken in a fixed
-- order, so two batches cannot deadlock) serialises writers of the same group, and
-- the aggregate runs as a new statement after the lock is granted, so under READ
-- COMMITTED it sees every result committed by the writer it waited for.
create function private.refresh_performance_metrics() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform pg_catalog.pg_advisory_xact_lock(g.lock_key)
       from (
        select distinct pg_catalog.hashtextextended(
                   'performance_metrics:' || n.test_case_id::text || ':'
                   || coalesce(n.environment_id::text, '') || ':'
                   || ((coalesce(n.started_at, n.created_at) at time zone 'UTC')::date)::text,
                   0) as lock_key
          from new_results as n
         where n.test_case_id is not null and n.status <> 'skipped'
         order by 1
       ) as g;

    with groups as (
        select distinct
               n.test_case_id,
               n.environment_id,
               (coalesce(n.started_at, n.created_at) at time zone 'UTC')::date as metric_date
          from new_results as n
         where n.test_case_id is not null and n.status <> 'skipped'
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
    return null;
end;
$$;
comment on function private.refresh_performance_metrics() is
    'AFTER INSERT statement trigger on test_results: recompute the daily metrics groups of the batch.';

-- --------------------------------------------------------------- failure analysis
-- Messages differing only in ids, numbers or quoted values are the same failure.
create function private.normalize_error_message(p_message text) returns text
language sql
immutable
set search_path = ''
as $$
    select pg_catalog.left(pg_catalog.btrim(pg_catalog.regexp_replace(
        pg_catalog.regexp_replace(
        pg_catalog.regexp_replace(
        pg_catalog.regexp_replace(
        pg_catalog.regexp_replace(pg_catalog.lower(coalesce(p_message, '')),
            '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g'),
            '''[^'']*''|"[^"]*"', '<str>', 'g'),
            '\m0x[0-9a-f]+\M|\m[0-9a-f]{16,}\M', '<hex>', 'g'),
            '\d+(\.\d+)?', '<n>', 'g'),
        '\s+', ' ', 'g')), 500)
$$;
comment on function private.normalize_error_message(text) is
    'Lower-cased message with uuids, quoted strings, hex and numbers replaced by placeholders (500 chars max).';

create function private.record_failures() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into public.failure_analysis as f (
        organization_id, project_id, test_case_id, fingerprint, error_category,
        normalized_message, sample_message, first_seen, last_seen, occurrences, last_run_id
    )
    select pg_catalog.min(x.organization_id::text)::uuid,
           pg_catalog.min(x.project_id::text)::uuid,
           x.test_case_id,
           x.fingerprint,
           x.category,
           x.normalized,
           (pg_catalog.array_agg(x.message order by x.seen desc))[1],
           pg_catalog.min(x.seen),
           pg_catalog.max(x.seen),
           pg_catalog.count(*)::integer,
           (pg_catalog.array_agg(x.run_id order by x.seen desc))[1]
      from (
        select n.organization_id, n.project_id, n.test_case_id, n.run_id, n.message,
               coalesce(n.error_category, case n.status when 'failed' then 'assertion' else 'internal' end)
                   as category,
               private.normalize_error_message(n.message) as normalized,
               coalesce(n.finished_at, n.started_at, n.created_at) as seen,
               pg_catalog.md5(
                   coalesce(n.error_category, case n.status when 'failed' then 'assertion' else 'internal' end)
                   || ':' || private.normalize_error_message(n.message)) as fingerprint
          from new_results as n
         where n.test_case_id is not null and n.status in ('failed', 'error')
      ) as x
     group by x.test_case_id, x.fingerprint, x.category, x.normalized
    on conflict (test_case_id, fingerprint) do update
       set occurrences = f.occurrences + excluded.occurrences,
           first_seen = least(f.first_seen, excluded.first_seen),
           last_seen = greatest(f.last_seen, excluded.last_seen),
           sample_message = case when excluded.last_seen >= f.last_seen
                                 then excluded.sample_message else f.sample_message end,
           last_run_id = case when excluded.last_seen >= f.last_seen
                              then excluded.last_run_id else f.last_run_id end;
    return null;
end;
$$;
comment on function private.record_failures() is
    'AFTER INSERT statement trigger on test_results: count failed/errored results by fingerprint.';

create trigger count_results after insert on public.test_results
    referencing new table as new_results
    for each statement execute function private.count_results();
create trigger refresh_performance_metrics after insert on public.test_results
    referencing new table as new_results
    for each statement execute function private.refresh_performance_metrics();
create trigger record_failures after insert on public.test_results
    referencing new table as new_results
    for each statement execute function private.record_failures();

-- --------------------------------------------------------------- run history
create function private.refresh_run_history() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_day date := (new.started_at at time zone 'UTC')::date;
begin
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
        'test_run_history:' || new.project_id::text || ':' || coalesce(new.suite_id::text, '') || ':'
        || coalesce(new.environment_id::text, '') || ':' || v_day::text, 0));

    insert into public.test_run_history as h (
        organization_id, project_id, suite_id, environment_id, run_date,
        total_runs, passed_runs, failed_runs, errored_runs, interrupted_runs,
        avg_duration_ms, total_tests, passed_tests
    )
    select new.organization_id, new.project_id, new.suite_id, new.environment_id, v_day,
           pg_catalog.count(*)::integer,
           (pg_catalog.count(*) filter (where r.status = 'passed'))::integer,
           (pg_catalog.count(*) filter (where r.status = 'failed'))::integer,
           (pg_catalog.count(*) filter (where r.status = 'error'))::integer,
           (pg_catalog.count(*) filter (where r.status = 'interrupted'))::integer,
           pg_catalog.avg(r.duration_ms)::double precision,
           coalesce(pg_catalog.sum(r.completed_tests), 0)::integer,
           coalesce(pg_catalog.sum(r.passed_tests), 0)::integer
      from public.test_runs as r
     where r.project_id = new.project_id
       and r.suite_id is not distinct from new.suite_id
       and r.environment_id is not distinct from new.environment_id
       and r.started_at >= (v_day::timestamp at time zone 'UTC')
       and r.started_at < ((v_day + 1)::timestamp at time zone 'UTC')
       and r.status <> 'running'
    on conflict (project_id, suite_id, environment_id, run_date) do update
       set total_runs = excluded.total_runs,
           passed_runs = excluded.passed_runs,
           failed_runs = excluded.failed_runs,
           errored_runs = excluded.errored_runs,
           interrupted_runs = excluded.interrupted_runs,
           avg_duration_ms = excluded.avg_duration_ms,
           total_tests = excluded.total_tests,
           passed_tests = excluded.passed_tests;
    return null;
end;
$$;
comment on function private.refresh_run_history() is
    'AFTER UPDATE/INSERT row trigger on test_runs: recompute the history group of a run that finished.';

create trigger refresh_run_history after update of status on public.test_runs
    for each row when (old.status = 'running' and new.status <> 'running')
    execute function private.refresh_run_history();
create trigger refresh_run_history_on_insert after insert on public.test_runs
    for each row when (new.status <> 'running')
    execute function private.refresh_run_history();

revoke execute on all functions in schema private from public;
