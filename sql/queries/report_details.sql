-- Every check and attempt of one run's results, in their own order.
select d.result_id::text, d.kind, d.ordinal, d.name, d.passed, d.expected, d.actual, d.message,
       d.started_at, d.duration_ms, d.status_code, d.error_category, d.error
  from public.test_result_details as d
  join public.test_results as r on r.id = d.result_id
 where r.run_id = %(run_id)s
 order by d.result_id, d.kind, d.ordinal;
