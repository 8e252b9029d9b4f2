-- The rows of a runs chunk as (table, JSON): the runs and everything still below them
-- (context with token values redacted, results, checks and attempts).
select 'test_runs' as table_name, to_jsonb(t)::text as row_json
  from public.test_runs as t
 where t.id = any (%(ids)s::uuid[])
union all
select 'test_execution_context',
       (to_jsonb(c) || jsonb_build_object('shared_auth_tokens', coalesce(
            (select jsonb_object_agg(k, to_jsonb('[redacted]'::text)) from jsonb_object_keys(c.shared_auth_tokens) as k),
            '{}'::jsonb)))::text
  from public.test_execution_context as c
 where c.run_id = any (%(ids)s::uuid[])
union all
select 'test_results', to_jsonb(r)::text
  from public.test_results as r
 where r.run_id = any (%(ids)s::uuid[])
union all
select 'test_result_details', to_jsonb(d)::text
  from public.test_result_details as d
  join public.test_results as r on r.id = d.result_id
 where r.run_id = any (%(ids)s::uuid[]);
