-- Delete an archived chunk of test_cases, re-checking the rule (a run may have used one since).
delete from public.test_cases
 where id = any (%(ids)s::uuid[])  -- the primary key index, not a scan
   and id in (select e.id
                from private.retention_unused_cases(%(as_of)s, %(project_ids)s::uuid[], %(ids)s::uuid[]) as e);
