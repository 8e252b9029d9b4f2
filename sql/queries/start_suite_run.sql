-- Sync the suite and create the run and its context (the function SupabaseStore calls by RPC).
select public.start_suite_run(%s);
