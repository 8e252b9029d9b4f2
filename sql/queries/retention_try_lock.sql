-- The retention job's session advisory lock, without waiting.
select pg_try_advisory_lock(%(key)s)
