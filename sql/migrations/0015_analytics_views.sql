-- Views for Supabase Studio (and the REST API) over the analytics of 0014.
--
-- All are `security_invoker = true`: they read the underlying tables with the
-- caller's privileges, so row-level security holds and a user sees exactly the
-- rows of their own organisations. Definitions: docs/analytics.md.

-- ------------------------------------------------------------------ flaky_tests
create view public.flaky_tests with (security_invoker = true) as
select s.organization_id,
       s.project_id,
       c.suite_id,
       s.test_case_id,
       c.stable_id as test,
       c.name,
       s.environment_id,
       e.name as environment_name,
       s.window_days,
       s.runs,
       s.failures,
       s.failure_rate,
       s.flips,
       s.flip_rate,
       s.recovered_on_retry,
       s.recovered_rate,
       s.reasons,
       s.last_run_at,
       d.detected_at,
       q.id is not null as quarantined
  from public.flaky_test_stats() as s
  join public.test_cases as c on c.id = s.test_case_id
  left join public.environments as e on e.id = s.environment_id
  left join public.test_quarantines as q on q.test_case_id = s.test_case_id
  left join public.flaky_test_detections as d
    on d.test_case_id = s.test_case_id
   and d.environment_id is not distinct from s.environment_id
   and d.resolved_at is null
 where s.is_flaky;
comment on view public.flaky_tests is
    'Test cases flaky now: each project''s window ending now (public.flaky_test_stats), with the '
    'rates, the reasons, the open detection and whether the test is quarantined.';

-- ------------------------------------------------------ performance_regressions_recent
create view public.performance_regressions_recent with (security_invoker = true) as
select distinct on (g.test_case_id, g.environment_id, g.metric_date)
       g.organization_id,
       g.project_id,
       g.test_case_id,
       c.stable_id as test,
       c.name,
       g.environment_id,
       e.name as environment_name,
       g.metric_date,
       g.p95_ms,
       g.baseline_p95_ms,
       g.ratio,
       g.threshold,
       g.explanation,
       g.run_id,
       g.created_at
  from public.performance_regressions as g
  join public.test_cases as c on c.id = g.test_case_id
  left join public.environments as e on e.id = g.environment_id
 where g.metric_date >= (pg_catalog.now() at time zone 'UTC')::date - 30
 order by g.test_case_id, g.environment_id, g.metric_date, g.created_at desc;
comment on view public.performance_regressions_recent is
    'Regressions of the last 30 days, one row per test case, environment and day (the latest run''s).';

-- ------------------------------------------------------------------ top_failures
create view public.top_failures with (security_invoker = true) as
select f.organization_id,
       f.project_id,
       f.fingerprint,
       f.error_category,
       f.endpoint,
       f.normalized_message,
       pg_catalog.sum(f.occurrences)::bigint as occurrences,
       pg_catalog.count(*)::integer as test_cases,
       pg_catalog.array_agg(c.stable_id order by c.stable_id) as tests,
       pg_catalog.min(f.first_seen) as first_seen,
       pg_catalog.max(f.last_seen) as last_seen,
       (pg_catalog.array_agg(f.sample_message order by f.last_seen desc))[1] as sample_message,
       (pg_catalog.array_agg(f.last_run_id order by f.last_seen desc))[1] as last_run_id
  from public.failure_analysis as f
  join public.test_cases as c on c.id = f.test_case_id
 group by f.organization_id, f.project_id, f.fingerprint, f.error_category, f.endpoint,
          f.normalized_message
 order by occurrences desc, last_seen desc;
comment on view public.top_failures is
    'Failures grouped by fingerprint (category, endpoint, normalised message) across test cases, '
    'most frequent first.';

-- ----------------------------------------------------------------- run_summaries
create view public.run_summaries with (security_invoker = true) as
select r.id as run_id,
       r.organization_id,
       r.project_id,
       r.suite_id,
       r.suite_name,
       r.environment_id,
       r.environment_name,
       r.status,
       r.trigger,
       r.started_at,
       r.finished_at,
       r.duration_ms,
       r.total_tests,
       r.passed_tests,
       r.failed_tests,
       r.errored_tests,
       r.skipped_tests,
       r.passed_tests::double precision / nullif(r.completed_tests - r.skipped_tests, 0) as pass_rate,
       q.tests as quarantined_tests,
       (select pg_catalog.count(*)::integer
          from public.test_results as t
         where t.run_id = r.id
           and t.status in ('failed', 'error')
           and pg_catalog.split_part(t.test_key, '[', 1) = any (q.tests)) as quarantined_failures,
       (select pg_catalog.count(*)::integer
          from public.performance_regressions as g where g.run_id = r.id) as regressions,
       (select pg_catalog.count(*)::integer
          from public.flaky_test_detections as d where d.run_id = r.id) as flaky_detected,
       r.pinned
  from public.test_runs as r
 cross join lateral (
    select coalesce(array(
               select pg_catalog.jsonb_array_elements_text(r.metadata -> 'quarantined_tests')
                where pg_catalog.jsonb_typeof(r.metadata -> 'quarantined_tests') = 'array'),
           '{}'::text[]) as tests
 ) as q;
comment on view public.run_summaries is
    'One row per run: status, counts, pass rate (of the results that ran), the tests quarantined '
    'when it started and their failures, regressions and newly flaky tests it found.';

revoke all on public.flaky_tests, public.performance_regressions_recent, public.top_failures,
    public.run_summaries from public, anon, authenticated, service_role;
grant select on public.flaky_tests, public.performance_regressions_recent, public.top_failures,
    public.run_summaries to authenticated, service_role;
