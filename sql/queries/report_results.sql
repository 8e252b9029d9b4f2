-- The results of one run in the order they ran (skipped ones where they finished).
select id::text, test_key, name, row_index, status, error_category, message, started_at,
       finished_at, response_time_ms, status_code, passed_after_retry, request_snapshot,
       response_snapshot, captured
  from public.test_results
 where run_id = %(run_id)s
 order by coalesce(started_at, finished_at, created_at), test_key;
