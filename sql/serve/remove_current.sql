-- Before the RLS question on a change, the row with its primary key as it is now
-- (updated again since, or already deleted) is taken out, so that restore_row.sql can
-- put the change's image in its place; inside a transaction that is always rolled back
-- (replica_role.sql). {table} and {key} are identifiers composed with psycopg.sql,
-- never user text.
delete from {table}
where ({key}) = (select {key} from pg_catalog.jsonb_populate_record(null::{table}, %(row)s::jsonb))
