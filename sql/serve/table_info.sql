-- What a postgres_changes payload and the RLS check need about one table:
-- its columns with type names, the columns an INSERT may name (not generated), primary
-- key columns, RLS and replica identity.
select
    coalesce(
        (select pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object('name', a.attname, 'type', t.typname)
                    order by a.attnum)
         from pg_catalog.pg_attribute a
         join pg_catalog.pg_type t on t.oid = a.atttypid
         where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
        '[]'::jsonb
    ) as columns,
    coalesce(
        (select pg_catalog.array_agg(a.attname::text order by a.attnum)
         from pg_catalog.pg_attribute a
         where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''),
        '{}'::text[]
    ) as insertable,
    coalesce(
        (select pg_catalog.array_agg(a.attname::text order by k.ord)
         from pg_catalog.pg_index i
         cross join lateral pg_catalog.unnest(i.indkey) with ordinality as k(attnum, ord)
         join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
         where i.indrelid = c.oid and i.indisprimary),
        '{}'::text[]
    ) as primary_key,
    c.relrowsecurity,
    c.relreplident = 'f' as replica_identity_full
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relname = %(table)s and c.relkind in ('r', 'p')
