-- The analytics of a finished run cost what its unsteady tests cost.
--
-- Measured on a 10,001-test run in a project with 20 earlier runs that day
-- (docs/performance.md): finishing took 1.2-1.6 s, all of it after the last test,
-- so on the run's wall time. Two parts:
--
--   * detect_flaky_tests (0014) computed flaky_test_stats for every test case of the
--     run over the whole window (200,000 results) and then touched
--     flaky_test_detections once per test. A test whose outcomes in the window never
--     failed and never needed a retry has 0 failures, 0 flips and 0 recoveries: it
--     cannot be flaky, and it has nothing to resolve unless a detection is open. Now
--     only tests with a failing or retried result in the window (a probe per test in
--     the new partial index) or an open detection are judged; the verdicts are the
--     same.
--   * detect_regressions (0014) joined the run's (test, day) pairs to their daily
--     metrics rows; for a run without an environment the planner estimated that
--     join (environment_id is not distinct from null) at one row and made it a
--     nested loop over both whole sets: 3-5 s for 10,000 tests. Each pair now
--     looks its row up by index, whatever the estimates.
--   * refresh_run_metrics (0013) recomputed every daily metrics group of the run at
--     finish, even when its batches had already done so (REST writers never defer).
--     A writer that kept the metrics current batch by batch now says so with the
--     transaction-local setting runner.metrics_current = 'on' in the transaction that
--     finishes the run, and the recomputation is skipped. Without it (a deferred
--     writer, a run finished by hand) it happens as before. The runner's
--     PostgresStore no longer defers: the batches' recomputation runs while the tests
--     run, next to them, instead of after the last one.

create index test_results_unsteady_idx on public.test_results (test_case_id)
    where test_case_id is not null and (status in ('failed', 'error') or passed_after_retry);

-- ------------------------------------------------------------------ flaky tests
create or replace function private.detect_flaky_tests(p_run public.test_runs) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_stat record;
    v_id uuid;
    v_window_start timestamptz;
    v_candidates uuid[];
begin
    select p_run.started_at - pg_catalog.make_interval(days => s.flaky_window_days)
      into v_window_start
      from public.analytics_settings as s
     where s.project_id = p_run.project_id;
    if v_window_start is null then
        return;  -- no settings: flaky_test_stats has nothing to say either
    end if;
    -- Only a test with a failing or retried outcome in the window can be flaky (with
    -- none, its failures, flips and recoveries are all 0), and only one with an open
    -- detection can be resolved: judge those, not every test of the run. The partial
    -- index test_results_unsteady_idx makes this a probe per test.
    v_candidates := array(
        select distinct r.test_case_id
          from public.test_results as r
         where r.run_id = p_run.id
           and r.test_case_id is not null
           and (exists (select 1
                          from public.test_results as f
                          join public.test_runs as fr on fr.id = f.run_id
                         where f.test_case_id = r.test_case_id
                           and (f.status in ('failed', 'error') or f.passed_after_retry)
                           and fr.started_at > v_window_start)
                or exists (select 1 from public.flaky_test_detections as d
                            where d.test_case_id = r.test_case_id and d.resolved_at is null)));
    if pg_catalog.cardinality(v_candidates) = 0 then
        return;
    end if;
    for v_stat in
        select s.*, c.stable_id, c.name
          from public.flaky_test_stats(
                   p_run.started_at, p_run.project_id,
                   v_candidates) as s
          join public.test_cases as c on c.id = s.test_case_id
         where s.environment_id is not distinct from p_run.environment_id
         order by c.stable_id
    loop
        -- serialise with another run finishing for the same test and environment
        perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
            'flaky:' || v_stat.test_case_id::text || ':' || coalesce(v_stat.environment_id::text, ''), 0));
        if v_stat.is_flaky then
            v_id := null;
            insert into public.flaky_test_detections (
                organization_id, project_id, test_case_id, environment_id, run_id, window_days,
                runs, failures, failure_rate, flips, flip_rate, recovered_on_retry, recovered_rate, reasons)
            values (
                v_stat.organization_id, v_stat.project_id, v_stat.test_case_id, v_stat.environment_id,
                p_run.id, v_stat.window_days, v_stat.runs, v_stat.failures, v_stat.failure_rate,
                v_stat.flips, v_stat.flip_rate, v_stat.recovered_on_retry, v_stat.recovered_rate,
                v_stat.reasons)
            on conflict (test_case_id, (coalesce(environment_id, '00000000-0000-0000-0000-000000000000'::uuid)))
                where resolved_at is null do nothing
            returning id into v_id;
            if v_id is not null then
                perform private.analytics_event(p_run.id, 'flaky_test_detected', pg_catalog.jsonb_build_object(
                    'detection_id', v_id,
                    'test_case_id', v_stat.test_case_id,
                    'test', v_stat.stable_id,
                    'name', v_stat.name,
                    'environment_id', v_stat.environment_id,
                    'window_days', v_stat.window_days,
                    'runs', v_stat.runs,
                    'failures', v_stat.failures,
                    'failure_rate', v_stat.failure_rate,
                    'flips', v_stat.flips,
                    'flip_rate', v_stat.flip_rate,
                    'recovered_on_retry', v_stat.recovered_on_retry,
                    'recovered_rate', v_stat.recovered_rate,
                    'reasons', pg_catalog.to_jsonb(v_stat.reasons)));
            end if;
        else
            update public.flaky_test_detections as d
               set resolved_at = greatest(pg_catalog.now(), d.detected_at), resolved_run_id = p_run.id
             where d.test_case_id = v_stat.test_case_id
               and d.environment_id is not distinct from v_stat.environment_id
               and d.resolved_at is null;
        end if;
    end loop;
end;
$$;


-- ------------------------------------------------------------------ daily metrics
create or replace function private.refresh_run_metrics() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_cases uuid[];
    v_environments uuid[];
    v_dates date[];
begin
    if coalesce(pg_catalog.current_setting('runner.metrics_current', true), '') = 'on' then
        return null;  -- the writer's batches kept them current
    end if;
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
    'groups of every result of the run, unless the finishing transaction set '
    'runner.metrics_current = on (its batches kept them current).';

-- ------------------------------------------------------------ regressions
create or replace function private.detect_regressions(p_run public.test_runs) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_settings public.analytics_settings;
    v_row record;
    v_id uuid;
begin
    select * into v_settings from public.analytics_settings where project_id = p_run.project_id;
    if v_settings.id is null then
        return;
    end if;
    for v_row in
        with days as (
            select distinct r.test_case_id,
                   ((coalesce(r.started_at, r.created_at) at time zone 'UTC')::date) as metric_date
              from public.test_results as r
             where r.run_id = p_run.id and r.test_case_id is not null and r.status <> 'skipped'
        )
        select d.test_case_id, d.metric_date, c.stable_id, c.name,
               today.p95_response_ms as p95, b.baseline, b.baseline_runs
          from days as d
          join public.test_cases as c on c.id = d.test_case_id
          -- a lookup per test and day by index (0022): as a join, a run without
          -- environment (is not distinct from null) was estimated at one row and
          -- planned as a nested loop over both whole sets, 3-5 s for 10,000 tests
         cross join lateral (
            select t.p95_response_ms
              from public.performance_metrics as t
             where t.test_case_id = d.test_case_id
               and t.metric_date = d.metric_date
               and t.environment_id is not distinct from p_run.environment_id
             limit 1  -- the row is unique; the limit also keeps it from being joined
         ) as today
         cross join lateral (
            -- the run-weighted mean of the daily p95 over the baseline days
            select pg_catalog.sum(m.p95_response_ms * m.total_runs)
                       / nullif(pg_catalog.sum(m.total_runs), 0) as baseline,
                   pg_catalog.sum(m.total_runs)::integer as baseline_runs
              from public.performance_metrics as m
             where m.test_case_id = d.test_case_id
               and m.environment_id is not distinct from p_run.environment_id
               and m.metric_date >= d.metric_date - v_settings.regression_baseline_days
               and m.metric_date < d.metric_date
               and m.p95_response_ms is not null
               and m.total_runs > 0
         ) as b
         where today.p95_response_ms is not null
           and b.baseline > 0
           and b.baseline_runs >= v_settings.regression_min_baseline_runs
           -- numeric, so "exactly 20 % above" is not flagged by a rounding error
           and today.p95_response_ms::numeric > b.baseline::numeric * (1 + v_settings.regression_threshold::numeric)
         order by c.stable_id, d.metric_date
    loop
        v_id := null;
        insert into public.performance_regressions (
            organization_id, project_id, run_id, test_case_id, environment_id, metric_date,
            p95_ms, baseline_p95_ms, baseline_days, baseline_runs, ratio, threshold, explanation)
        values (
            p_run.organization_id, p_run.project_id, p_run.id, v_row.test_case_id, p_run.environment_id,
            v_row.metric_date, v_row.p95, v_row.baseline, v_settings.regression_baseline_days,
            v_row.baseline_runs, v_row.p95 / v_row.baseline, v_settings.regression_threshold,
            pg_catalog.format(
                'p95 %s ms on %s is %s %% above the baseline of %s ms (run-weighted mean of the daily p95 '
                'from %s to %s, %s results); flagged above +%s %%',
                pg_catalog.round(v_row.p95::numeric, 1), v_row.metric_date,
                pg_catalog.round((v_row.p95 / v_row.baseline - 1)::numeric * 100, 1),
                pg_catalog.round(v_row.baseline::numeric, 1),
                v_row.metric_date - v_settings.regression_baseline_days, v_row.metric_date - 1,
                v_row.baseline_runs,
                pg_catalog.round(v_settings.regression_threshold::numeric * 100, 1)))
        on conflict (run_id, test_case_id, metric_date) do nothing
        returning id into v_id;
        if v_id is not null then
            perform private.analytics_event(p_run.id, 'performance_degradation', pg_catalog.jsonb_build_object(
                'regression_id', v_id,
                'test_case_id', v_row.test_case_id,
                'test', v_row.stable_id,
                'name', v_row.name,
                'environment_id', p_run.environment_id,
                'metric_date', v_row.metric_date,
                'p95_ms', v_row.p95,
                'baseline_p95_ms', v_row.baseline,
                'ratio', v_row.p95 / v_row.baseline,
                'threshold', v_settings.regression_threshold));
        end if;
    end loop;
end;
$$;

