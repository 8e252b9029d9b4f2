-- Delete an archived chunk of monthly metrics rows, re-checking the rule.
delete from public.performance_metrics_monthly
 where id = any (%(ids)s::uuid[])  -- the primary key index, not a scan
   and id in (select e.id
                from private.retention_expired_monthly_metrics(%(as_of)s, %(project_ids)s::uuid[], %(ids)s::uuid[]) as e);
