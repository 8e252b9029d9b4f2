select stable_id, id from public.test_cases where suite_id = %(suite_id)s;
