-- One stored run for a report: the run, its project's name and organisation.
select r.id::text, r.organization_id::text, r.project_id::text, p.name as project_name,
       r.suite_id::text, coalesce(r.suite_name, s.name, '') as suite_name, r.environment_name,
       r.status, r.started_at, coalesce(r.finished_at, r.started_at) as finished_at
  from public.test_runs as r
  left join public.projects as p on p.id = r.project_id
  left join public.test_suites as s on s.id = r.suite_id
 where r.id = %(run_id)s;
