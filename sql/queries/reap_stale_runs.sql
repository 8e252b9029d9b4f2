-- Mark runs whose heartbeat is older than %(stale_after_s)s seconds interrupted (runner
-- lost); `runner serve` runs this periodically as the system. Returns how many.
select public.reap_stale_runs(%(stale_after_s)s::double precision);
