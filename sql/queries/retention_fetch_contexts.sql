-- The rows of a contexts chunk as (table, JSON). Token values are never archived:
-- shared_auth_tokens keeps its names with "[redacted]" values.
select 'test_execution_context' as table_name,
       (to_jsonb(c) || jsonb_build_object('shared_auth_tokens', coalesce(
            (select jsonb_object_agg(k, to_jsonb('[redacted]'::text)) from jsonb_object_keys(c.shared_auth_tokens) as k),
            '{}'::jsonb)))::text as row_json
  from public.test_execution_context as c
 where c.id = any (%(ids)s::uuid[])
 order by c.id;
