-- Edges that are no longer in the suite.
delete from public.test_dependencies as td
 using public.test_cases as t, public.test_cases as d
 where td.suite_id = %(suite_id)s
   and t.id = td.test_case_id and d.id = td.depends_on_test_case_id
   and not ((t.stable_id || ' ' || d.stable_id) = any(%(pairs)s::text[]));
