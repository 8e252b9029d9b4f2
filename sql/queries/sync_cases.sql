-- Upsert every test of a suite in one statement, keyed by its stable id; rows whose
-- content hash did not change are left untouched (a re-sync writes nothing).
insert into public.test_cases
       (project_id, suite_id, stable_id, name, description, tags, enabled, sort_order,
        definition, content_hash)
select %(project_id)s, %(suite_id)s, c.stable_id, c.name, c.description, c.tags, c.enabled,
       c.sort_order, c.definition, c.content_hash
  from jsonb_to_recordset(%(cases)s::jsonb) as c (
       stable_id text, name text, description text, tags text[], enabled boolean,
       sort_order integer, definition jsonb, content_hash text)
on conflict (suite_id, stable_id) do update
   set name = excluded.name,
       description = excluded.description,
       tags = excluded.tags,
       enabled = excluded.enabled,
       sort_order = excluded.sort_order,
       definition = excluded.definition,
       content_hash = excluded.content_hash
 where public.test_cases.content_hash is distinct from excluded.content_hash;
