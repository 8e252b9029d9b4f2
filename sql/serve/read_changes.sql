-- Captured row changes by id (the ids NOTIFY realtime_local_changes delivered).
select id, schema_name, table_name, type, record, old_record, commit_timestamp
from realtime.local_changes
where id = any(%(ids)s::bigint[])
order by id
