-- What retention would remove now (the dry run): rows per phase, touching nothing.
select 'contexts' as phase, count(*) as n
  from private.retention_expired_contexts(%(as_of)s, %(project_ids)s::uuid[])
union all
select 'results', count(*)
  from private.retention_expired_results(%(as_of)s, %(project_ids)s::uuid[])
union all
select 'runs', count(*)
  from private.retention_expired_runs(%(as_of)s, %(project_ids)s::uuid[])
union all
select 'metrics_daily', count(*)
  from private.retention_expired_daily_metrics(%(as_of)s, %(project_ids)s::uuid[])
union all
select 'metrics_monthly', count(*)
  from private.retention_expired_monthly_metrics(%(as_of)s, %(project_ids)s::uuid[])
union all
-- versions and cases as they stand now (the runs expiring above may free more)
select 'versions', count(*)
  from private.retention_unused_versions(%(as_of)s, %(project_ids)s::uuid[])
union all
select 'cases', count(*)
  from private.retention_unused_cases(%(as_of)s, %(project_ids)s::uuid[]);
