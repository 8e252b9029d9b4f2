-- Delete an archived chunk of runs (context, results and details cascade), re-checking the rule.
delete from public.test_runs
 where id = any (%(ids)s::uuid[])  -- the primary key index, not a scan
   and id in (select e.id
                from private.retention_expired_runs(%(as_of)s, %(project_ids)s::uuid[], %(ids)s::uuid[]) as e);
