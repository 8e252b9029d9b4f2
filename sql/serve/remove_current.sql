-- Inserts and updates: the row may have changed again, or been deleted, since the
-- change was recorded. Before the RLS question it is removed here and put back as the
-- change recorded it (restore_deleted.sql), inside a transaction that is always rolled
-- back, with triggers and foreign-key checks off (replica_role.sql). {table} and {key}
-- are identifiers composed with psycopg.sql, never user text.
delete from {table}
where ({key}) = (select {key} from pg_catalog.jsonb_populate_record(null::{table}, %(row)s::jsonb))
