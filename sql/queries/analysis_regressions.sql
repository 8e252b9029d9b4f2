-- Regressions a run found (performance_regressions), in test order.
select g.test_case_id::text, c.stable_id, c.name, g.environment_id::text, g.metric_date,
       g.p95_ms, g.baseline_p95_ms, g.baseline_days, g.baseline_runs, g.ratio, g.threshold,
       g.explanation
  from public.performance_regressions as g
  join public.test_cases as c on c.id = g.test_case_id
 where g.run_id = %(run_id)s
 order by c.stable_id, g.metric_date;
