-- Upsert the suite's dependency edges (explicit and inferred) by stable ids.
insert into public.test_dependencies (suite_id, test_case_id, depends_on_test_case_id, dependency_type)
select %(suite_id)s, t.id, d.id, e.type
  from jsonb_to_recordset(%(edges)s::jsonb) as e (test text, dep text, type text)
  join public.test_cases as t on t.suite_id = %(suite_id)s and t.stable_id = e.test
  join public.test_cases as d on d.suite_id = %(suite_id)s and d.stable_id = e.dep
on conflict (test_case_id, depends_on_test_case_id) do update
   set dependency_type = excluded.dependency_type
 where public.test_dependencies.dependency_type is distinct from excluded.dependency_type;
