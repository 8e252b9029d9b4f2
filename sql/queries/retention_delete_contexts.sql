-- Delete an archived chunk of contexts, re-checking the rule (a run pinned meanwhile keeps its context).
delete from public.test_execution_context
 where id = any (%(ids)s::uuid[])  -- the primary key index, not a scan
   and id in (select e.id
                from private.retention_expired_contexts(%(as_of)s, %(project_ids)s::uuid[], %(ids)s::uuid[]) as e);
