-- The tables and views /rest/v1 exposes (schema public), with their columns in order
-- and primary key: the schema cache of the local PostgREST subset.
select c.relname as name,
       c.relkind::text as kind,
       coalesce(
           (select pg_catalog.array_agg(a.attname::text order by a.attnum)
              from pg_catalog.pg_attribute as a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
           '{}'
       ) as columns,
       coalesce(
           (select pg_catalog.array_agg(a.attname::text order by k.ord)
              from pg_catalog.pg_constraint as pk
              cross join lateral pg_catalog.unnest(pk.conkey) with ordinality as k (attnum, ord)
              join pg_catalog.pg_attribute as a on a.attrelid = c.oid and a.attnum = k.attnum
             where pk.conrelid = c.oid and pk.contype = 'p'),
           '{}'
       ) as primary_key
  from pg_catalog.pg_class as c
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
 where n.nspname = 'public'
   and c.relkind in ('r', 'v', 'm', 'p', 'f')
 order by c.relname;
