-- The next chunk of unused rows (ids after %(after)s), keyset-paged by id; the rule
-- is private.retention_unused_cases (sql/migrations/0032_suite_versions.sql).
select e.id
  from private.retention_unused_cases(%(as_of)s, %(project_ids)s::uuid[]) as e
 where e.id > %(after)s
 order by e.id
 limit %(limit)s;
