-- The dependency edges of a suite by test id: (dependency, test, type).
select dep.stable_id, t.stable_id, e.dependency_type
  from public.test_dependencies as e
  join public.test_cases as t on t.id = e.test_case_id
  join public.test_cases as dep on dep.id = e.depends_on_test_case_id
 where e.suite_id = %(suite_id)s
 order by t.sort_order, dep.sort_order;
