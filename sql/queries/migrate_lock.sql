-- The advisory lock every migrator takes for its transaction.
select pg_advisory_xact_lock(%(key)s)
