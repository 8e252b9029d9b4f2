-- The rows of a versions chunk as (table, JSON): the suite versions.
select 'suite_versions' as table_name, to_jsonb(v)::text as row_json
  from public.suite_versions as v
 where v.id = any (%(ids)s::uuid[]);
