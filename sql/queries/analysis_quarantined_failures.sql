-- Failed or errored results of a run whose test was quarantined when the run started
-- (test_runs.metadata.quarantined_tests), with the quarantine's reason if it still holds.
select t.test_key, pg_catalog.split_part(t.test_key, '[', 1) as test, t.status,
       t.error_category, t.message, q.reason
  from public.test_runs as r
  join public.test_results as t on t.run_id = r.id
  left join public.test_quarantines as q on q.test_case_id = t.test_case_id
 where r.id = %(run_id)s
   and t.status in ('failed', 'error')
   and pg_catalog.jsonb_typeof(r.metadata -> 'quarantined_tests') = 'array'
   and r.metadata -> 'quarantined_tests' ? pg_catalog.split_part(t.test_key, '[', 1)
 order by t.test_key;
