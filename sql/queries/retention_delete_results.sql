-- Delete an archived chunk of results (their checks and attempts cascade), re-checking the rule.
delete from public.test_results
 where id = any (%(ids)s::uuid[])  -- the primary key index, not a scan
   and id in (select e.id
                from private.retention_expired_results(%(as_of)s, %(project_ids)s::uuid[], %(ids)s::uuid[]) as e);
