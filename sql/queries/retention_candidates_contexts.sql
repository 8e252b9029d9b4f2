-- The next chunk of expired rows (ids after %(after)s), keyset-paged by id; the rule
-- is private.retention_expired_contexts (sql/migrations/0017_retention_functions.sql).
select e.id
  from private.retention_expired_contexts(%(as_of)s, %(project_ids)s::uuid[]) as e
 where e.id > %(after)s
 order by e.id
 limit %(limit)s;
