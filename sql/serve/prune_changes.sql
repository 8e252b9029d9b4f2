-- Captured changes are read within milliseconds; keep a few minutes for catching up.
delete from realtime.local_changes
where commit_timestamp < pg_catalog.now() - interval '5 minutes'
