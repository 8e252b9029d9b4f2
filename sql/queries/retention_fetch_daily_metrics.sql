-- The rows of a daily-metrics chunk as (table, JSON), archived before the roll-up deletes them.
select 'performance_metrics' as table_name, to_jsonb(m)::text as row_json
  from public.performance_metrics as m
 where m.id = any (%(ids)s::uuid[]);
