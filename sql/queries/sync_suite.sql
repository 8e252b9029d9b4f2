-- Upsert a suite by (project, slug); an unchanged suite (same content hash) is not written.
insert into public.test_suites (project_id, name, slug, description, source_path, settings, content_hash)
values (%(project_id)s, %(name)s, %(slug)s, %(description)s, %(source_path)s, %(settings)s, %(content_hash)s)
on conflict (project_id, slug) do update
   set name = excluded.name,
       description = excluded.description,
       source_path = excluded.source_path,
       settings = excluded.settings,
       content_hash = excluded.content_hash
 where public.test_suites.content_hash is distinct from excluded.content_hash;
