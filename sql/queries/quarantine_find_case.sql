-- The test case `test` of suite `suite` (name or slug), optionally within a project slug.
select c.id, c.stable_id, s.name as suite, p.slug as project
  from public.test_cases as c
  join public.test_suites as s on s.id = c.suite_id
  join public.projects as p on p.id = c.project_id
 where (s.name = %(suite)s or s.slug = %(suite)s)
   and c.stable_id = %(test)s
   and (%(project)s::text is null or p.slug = %(project)s)
 order by p.slug;
