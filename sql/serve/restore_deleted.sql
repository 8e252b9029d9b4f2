-- Deletes: to ask RLS whether a subscriber could see the deleted row, put it back
-- inside a transaction that is always rolled back, with triggers and foreign-key
-- checks off (session_replication_role = replica; serve's owner is a superuser on the
-- local stack). {table} and {columns} are identifiers composed with psycopg.sql.
insert into {table} ({columns}) overriding system value
select {columns} from pg_catalog.jsonb_populate_record(null::{table}, %(row)s::jsonb)
