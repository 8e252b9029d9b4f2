-- Every function and procedure of the database that no extension owns, outside the
-- system schemas and the migrator's bookkeeping: schema, name, identity arguments, and
-- the definition as pg_get_functiondef prints it (what tools/dump_functions.py stores).
select n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid),
       pg_catalog.pg_get_functiondef(p.oid)
  from pg_catalog.pg_proc as p
  join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
 where n.nspname not in ('pg_catalog', 'information_schema', 'runner_meta')
   and n.nspname not like 'pg\_%'
   and p.prokind in ('f', 'p', 'w')
   and not exists (
         select 1 from pg_catalog.pg_depend as d
          where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid
            and d.deptype = 'e')
 order by 1, 2, 3
