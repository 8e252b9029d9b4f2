-- The rows of a monthly-metrics chunk as (table, JSON).
select 'performance_metrics_monthly' as table_name, to_jsonb(m)::text as row_json
  from public.performance_metrics_monthly as m
 where m.id = any (%(ids)s::uuid[]);
