-- Quarantined test cases the caller can see, optionally of one suite (name or slug).
select p.slug as project, s.name as suite, c.stable_id as test, q.reason,
       q.quarantined_at, u.email as quarantined_by
  from public.test_quarantines as q
  join public.test_cases as c on c.id = q.test_case_id
  join public.test_suites as s on s.id = c.suite_id
  join public.projects as p on p.id = q.project_id
  left join public.users as u on u.id = q.quarantined_by
 where (%(suite)s::text is null or s.name = %(suite)s or s.slug = %(suite)s)
   and (%(project)s::text is null or p.slug = %(project)s)
 order by p.slug, s.name, c.stable_id;
