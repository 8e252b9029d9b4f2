-- Create the run's context if missing (test order empty; the ttl from the manager).
select public.init_run_context(%(run_id)s, '[]'::jsonb, %(ttl)s)
