-- Whether the current role and claims may SELECT the changed row (found by primary
-- key). {table} and {key} are identifiers composed with psycopg.sql, never user text.
select exists (
    select 1 from {table}
    where ({key}) = (select {key} from pg_catalog.jsonb_populate_record(null::{table}, %(row)s::jsonb))
)
