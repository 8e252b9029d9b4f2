-- Foreign keys between exposed tables (schema public): what select=*,other(*) embeds.
select con.conname::text as name,
       src.relname::text as source,
       (select pg_catalog.array_agg(a.attname::text order by k.ord)
          from pg_catalog.unnest(con.conkey) with ordinality as k (attnum, ord)
          join pg_catalog.pg_attribute as a on a.attrelid = con.conrelid and a.attnum = k.attnum
       ) as source_columns,
       dst.relname::text as target,
       (select pg_catalog.array_agg(a.attname::text order by k.ord)
          from pg_catalog.unnest(con.confkey) with ordinality as k (attnum, ord)
          join pg_catalog.pg_attribute as a on a.attrelid = con.confrelid and a.attnum = k.attnum
       ) as target_columns
  from pg_catalog.pg_constraint as con
  join pg_catalog.pg_class as src on src.oid = con.conrelid
  join pg_catalog.pg_namespace as sn on sn.oid = src.relnamespace
  join pg_catalog.pg_class as dst on dst.oid = con.confrelid
  join pg_catalog.pg_namespace as dn on dn.oid = dst.relnamespace
 where con.contype = 'f' and sn.nspname = 'public' and dn.nspname = 'public'
 order by con.conname;
