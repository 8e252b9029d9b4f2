-- Release the retention job's session advisory lock.
select pg_advisory_unlock(%(key)s)
