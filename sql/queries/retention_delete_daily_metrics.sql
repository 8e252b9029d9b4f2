-- Delete an archived chunk of daily metrics and fold them into their months (one statement).
select private.retention_rollup_daily_metrics(%(as_of)s, %(project_ids)s::uuid[], %(ids)s::uuid[]);
