-- The rows of a results chunk as (table, JSON): the results, then their checks and attempts.
select 'test_results' as table_name, to_jsonb(r)::text as row_json
  from public.test_results as r
 where r.id = any (%(ids)s::uuid[])
union all
select 'test_result_details', to_jsonb(d)::text
  from public.test_result_details as d
 where d.result_id = any (%(ids)s::uuid[]);
