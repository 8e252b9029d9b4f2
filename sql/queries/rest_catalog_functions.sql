-- Functions /rest/v1/rpc may call (schema public): named input arguments, how many
-- have defaults, and the shape of the result.
select p.oid::bigint as oid,
       p.proname::text as name,
       coalesce(
           (select pg_catalog.array_agg(coalesce(n, '') order by i)
              from pg_catalog.unnest(p.proargnames) with ordinality as x (n, i)
             where p.proargmodes is null or p.proargmodes[i] in ('i', 'b', 'v')),
           '{}'
       ) as arg_names,
       coalesce(
           (select pg_catalog.array_agg(t.typname::text order by x.i)
              from pg_catalog.unnest(p.proargtypes::oid[]) with ordinality as x (typ, i)
              join pg_catalog.pg_type as t on t.oid = x.typ),
           '{}'
       ) as arg_types,
       coalesce(
           (select pg_catalog.array_agg(t.typcategory::text order by x.i)
              from pg_catalog.unnest(p.proargtypes::oid[]) with ordinality as x (typ, i)
              join pg_catalog.pg_type as t on t.oid = x.typ),
           '{}'
       ) as arg_categories,
       p.pronargdefaults::int as defaults,
       p.proretset as returns_set,
       rt.typname::text as return_type,
       (rt.typtype = 'c' or (rt.oid = 'pg_catalog.record'::pg_catalog.regtype
                             and p.proargmodes is not null
                             and 't' = any (p.proargmodes::text[]))) as returns_composite,
       p.provolatile::text as volatility
  from pg_catalog.pg_proc as p
  join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
  join pg_catalog.pg_type as rt on rt.oid = p.prorettype
 where n.nspname = 'public' and p.prokind = 'f'
 order by p.proname, p.oid;
