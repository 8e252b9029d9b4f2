-- Captured row changes since a moment (after the listener lost its connection).
select id, schema_name, table_name, type, record, old_record, commit_timestamp
from realtime.local_changes
where commit_timestamp >= %(since)s
order by id
limit 10000
