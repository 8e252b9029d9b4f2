select definition from public.test_cases where suite_id = %(suite_id)s order by sort_order, stable_id;
