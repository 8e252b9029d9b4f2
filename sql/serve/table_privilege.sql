-- As the subscriber (role set): may it SELECT from the table at all? (Deletes: the row
-- is gone, so RLS cannot be checked; Supabase delivers them on the table privilege.)
select pg_catalog.has_table_privilege(
    pg_catalog.format('%%I.%%I', %(schema)s::text, %(table)s::text), 'SELECT'
)
