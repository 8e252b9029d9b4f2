-- Flaky tests a run newly detected (flaky_test_detections opened by it), in test order.
select d.id::text, d.test_case_id::text, c.stable_id, c.name, d.environment_id::text,
       d.window_days, d.runs, d.failures, d.failure_rate, d.flips, d.flip_rate,
       d.recovered_on_retry, d.recovered_rate, d.reasons, d.detected_at
  from public.flaky_test_detections as d
  join public.test_cases as c on c.id = d.test_case_id
 where d.run_id = %(run_id)s
 order by c.stable_id;
