-- The rows of a cases chunk as (table, JSON): the test cases and their dependency edges
-- (what else hangs below a case -- analytics of a case without results -- is not kept).
select 'test_cases' as table_name, to_jsonb(c)::text as row_json
  from public.test_cases as c
 where c.id = any (%(ids)s::uuid[])
union all
select 'test_dependencies', to_jsonb(d)::text
  from public.test_dependencies as d
 where d.test_case_id = any (%(ids)s::uuid[]) or d.depends_on_test_case_id = any (%(ids)s::uuid[]);
