-- Delete an archived chunk of suite_versions, re-checking the rule (a run may have used one since).
delete from public.suite_versions
 where id = any (%(ids)s::uuid[])  -- the primary key index, not a scan
   and id in (select e.id
                from private.retention_unused_versions(%(as_of)s, %(project_ids)s::uuid[], %(ids)s::uuid[]) as e);
