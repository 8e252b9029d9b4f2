-- Delete contexts created longer ago than the given interval.
delete from public.test_execution_context
 where created_at < now() - %(ttl)s
