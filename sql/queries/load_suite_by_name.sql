-- A stored suite by name or slug; the caller refuses an ambiguous match.
select s.id, s.name, s.settings, s.source_path, p.slug as project, o.slug as organization
  from public.test_suites as s
  join public.projects as p on p.id = s.project_id
  join public.organizations as o on o.id = s.organization_id
 where (s.name = %(name)s or s.slug = %(name)s)
   and (%(project)s::text is null or p.slug = %(project)s)
 order by s.updated_at desc;
