-- Merge one test's captures (or the provenance entries) into a run's captured_data.
select public.merge_captured_data(%(run_id)s, %(test_key)s, %(data)s)
