-- The changed row as the change recorded it (its new image for inserts and updates,
-- its old one for deletes), put in place for the RLS question after remove_current.sql
-- took out whatever has its primary key now; inside a transaction that is always rolled
-- back, with triggers and foreign-key checks off (session_replication_role = replica;
-- serve's owner is a superuser on the local stack). {table} and {columns} are
-- identifiers composed with psycopg.sql.
insert into {table} ({columns}) overriding system value
select {columns} from pg_catalog.jsonb_populate_record(null::{table}, %(row)s::jsonb)
