-- Merge variables into a run's shared_variables (top-level keys replaced).
select public.set_shared_variables(%(run_id)s, %(variables)s)
