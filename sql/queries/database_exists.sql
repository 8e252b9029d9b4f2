-- Whether a database of that name exists in the cluster.
select 1 from pg_database where datname = %(name)s
