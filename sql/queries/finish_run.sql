-- Mark a run finished with its status (after every queued write).
select public.finish_run(%s, %s);
