-- Retention rules as SQL: which rows have expired, the monthly roll-up, and a
-- delete-only procedure for pg_cron (docs/retention.md).
--
-- The five expired_* functions are the one place each rule is written. The CLI
-- (`python -m runner retention`) pages through them to archive chunks, and deletes
-- with the same function restricted to a chunk's ids, so a row that stopped
-- qualifying in between (a run pinned meanwhile) is archived but not deleted.
--
-- They are plain SQL functions WITHOUT `set search_path` on purpose: only then does
-- the planner inline them into the caller's query (keyset paging by id over an
-- index instead of materialising every expired row per chunk). Every name in them
-- is schema-qualified, and they are SECURITY INVOKER: they read only what the
-- caller may read.

create function private.retention_expired_contexts(
    p_as_of timestamptz, p_project_ids uuid[] default null, p_ids uuid[] default null
) returns table (id uuid)
language sql
stable
as $$
    select c.id
      from public.test_execution_context as c
      join public.test_runs as t on t.id = c.run_id
      join public.retention_policy_effective as p on p.project_id = c.project_id
     where not t.pinned
       and (c.expires_at < p_as_of
            or c.created_at < p_as_of - pg_catalog.make_interval(hours => p.context_hours))
       and (p_project_ids is null or c.project_id = any (p_project_ids))
       and (p_ids is null or c.id = any (p_ids))
$$;
comment on function private.retention_expired_contexts(timestamptz, uuid[], uuid[]) is
    'Execution contexts past expires_at or older than the policy''s context_hours; pinned runs excluded.';

create function private.retention_expired_results(
    p_as_of timestamptz, p_project_ids uuid[] default null, p_ids uuid[] default null
) returns table (id uuid)
language sql
stable
as $$
    select r.id
      from public.test_results as r
      join public.test_runs as t on t.id = r.run_id
      join public.retention_policy_effective as p on p.project_id = r.project_id
     where not t.pinned
       and r.created_at < p_as_of - pg_catalog.make_interval(days =>
               case when r.status in ('failed', 'error') then p.failed_results_days
                    else p.passed_results_days end)
       and (p_project_ids is null or r.project_id = any (p_project_ids))
       and (p_ids is null or r.id = any (p_ids))
$$;
comment on function private.retention_expired_results(timestamptz, uuid[], uuid[]) is
    'Results older than the policy (failed/error: failed_results_days; passed/skipped: '
    'passed_results_days); pinned runs excluded.';

create function private.retention_expired_runs(
    p_as_of timestamptz, p_project_ids uuid[] default null, p_ids uuid[] default null
) returns table (id uuid)
language sql
stable
as $$
    select t.id
      from public.test_runs as t
      join public.retention_policy_effective as p on p.project_id = t.project_id
     where not t.pinned
       and t.started_at < p_as_of - pg_catalog.make_interval(days => p.run_history_days)
       and (p_project_ids is null or t.project_id = any (p_project_ids))
       and (p_ids is null or t.id = any (p_ids))
$$;
comment on function private.retention_expired_runs(timestamptz, uuid[], uuid[]) is
    'Unpinned runs started more than run_history_days ago (test_run_history keeps their day).';

create function private.retention_expired_daily_metrics(
    p_as_of timestamptz, p_project_ids uuid[] default null, p_ids uuid[] default null
) returns table (id uuid)
language sql
stable
as $$
    select m.id
      from public.performance_metrics as m
      join public.retention_policy_effective as p on p.project_id = m.project_id
     where m.metric_date < (p_as_of at time zone 'UTC')::date - p.metrics_daily_days
       and (p_project_ids is null or m.project_id = any (p_project_ids))
       and (p_ids is null or m.id = any (p_ids))
$$;
comment on function private.retention_expired_daily_metrics(timestamptz, uuid[], uuid[]) is
    'Daily performance_metrics rows older than metrics_daily_days: to be rolled up monthly.';

create function private.retention_expired_monthly_metrics(
    p_as_of timestamptz, p_project_ids uuid[] default null, p_ids uuid[] default null
) returns table (id uuid)
language sql
stable
as $$
    select m.id
      from public.performance_metrics_monthly as m
      join public.retention_policy_effective as p on p.project_id = m.project_id
     where (m.metric_month + interval '1 month')::date
               <= (p_as_of at time zone 'UTC')::date - p.metrics_days
       and (p_project_ids is null or m.project_id = any (p_project_ids))
       and (p_ids is null or m.id = any (p_ids))
$$;
comment on function private.retention_expired_monthly_metrics(timestamptz, uuid[], uuid[]) is
    'Monthly roll-up rows whose whole month is older than metrics_days.';

-- ------------------------------------------------------------------ roll-up
-- Deletes the given expired daily rows and folds them into their month, in one
-- statement (so one transaction): a day is counted exactly once whatever crashes.
-- Weighted means combine associatively, so merging into an existing month gives
-- the same result as rolling the whole month at once; a day already listed in
-- rolled_dates (a restored daily row rolled up again) is deleted, not re-counted.
create function private.retention_rollup_daily_metrics(
    p_as_of timestamptz, p_project_ids uuid[], p_ids uuid[]
) returns integer
language plpgsql
set search_path = ''
as $$
declare
    v_count integer;
begin
    with doomed as (
        delete from public.performance_metrics as d
         where d.id = any (p_ids)
           and d.id in (select e.id
                          from private.retention_expired_daily_metrics(p_as_of, p_project_ids, p_ids) as e)
        returning d.*
    ),
    fresh as (
        select d.*, pg_catalog.date_trunc('month', d.metric_date)::date as metric_month
          from doomed as d
         where not exists (
                select 1 from public.performance_metrics_monthly as m
                 where m.test_case_id = d.test_case_id
                   and m.environment_id is not distinct from d.environment_id
                   and m.metric_month = pg_catalog.date_trunc('month', d.metric_date)::date
                   and d.metric_date = any (m.rolled_dates))
    ),
    months as (
        select f.test_case_id, f.environment_id, f.metric_month,
               pg_catalog.min(f.organization_id::text)::uuid as organization_id,
               pg_catalog.min(f.project_id::text)::uuid as project_id,
               pg_catalog.array_agg(f.metric_date order by f.metric_date) as rolled_dates,
               pg_catalog.sum(f.total_runs)::integer as total_runs,
               pg_catalog.sum(f.successful_runs)::integer as successful_runs,
               coalesce(pg_catalog.sum(f.total_runs) filter (where f.avg_response_ms is not null), 0)::integer
                   as timed_runs,
               pg_catalog.sum(f.avg_response_ms * f.total_runs) filter (where f.avg_response_ms is not null)
                   / nullif(pg_catalog.sum(f.total_runs) filter (where f.avg_response_ms is not null), 0)
                   as avg_ms,
               pg_catalog.sum(f.p50_response_ms * f.total_runs) filter (where f.avg_response_ms is not null)
                   / nullif(pg_catalog.sum(f.total_runs) filter (where f.avg_response_ms is not null), 0)
                   as p50,
               pg_catalog.sum(f.p95_response_ms * f.total_runs) filter (where f.avg_response_ms is not null)
                   / nullif(pg_catalog.sum(f.total_runs) filter (where f.avg_response_ms is not null), 0)
                   as p95,
               pg_catalog.sum(f.p99_response_ms * f.total_runs) filter (where f.avg_response_ms is not null)
                   / nullif(pg_catalog.sum(f.total_runs) filter (where f.avg_response_ms is not null), 0)
                   as p99,
               pg_catalog.min(f.min_response_ms) as min_ms,
               pg_catalog.max(f.max_response_ms) as max_ms
          from fresh as f
         group by f.test_case_id, f.environment_id, f.metric_month
    ),
    written as (
    insert into public.performance_metrics_monthly as m (
        organization_id, project_id, test_case_id, environment_id, metric_month, rolled_dates,
        total_runs, successful_runs, timed_runs, avg_response_ms, p50_response_ms,
        p95_response_ms, p99_response_ms, min_response_ms, max_response_ms, success_rate
    )
    select s.organization_id, s.project_id, s.test_case_id, s.environment_id, s.metric_month,
           s.rolled_dates, s.total_runs, s.successful_runs, s.timed_runs, s.avg_ms, s.p50, s.p95,
           s.p99, s.min_ms, s.max_ms,
           s.successful_runs::double precision / nullif(s.total_runs, 0)
      from months as s
    on conflict (test_case_id, environment_id, metric_month) do update
       set rolled_dates = (select pg_catalog.array_agg(x order by x)
                             from pg_catalog.unnest(m.rolled_dates || excluded.rolled_dates) as x),
           total_runs = m.total_runs + excluded.total_runs,
           successful_runs = m.successful_runs + excluded.successful_runs,
           timed_runs = m.timed_runs + excluded.timed_runs,
           avg_response_ms = private.retention_weighted(m.avg_response_ms, m.timed_runs,
                                                        excluded.avg_response_ms, excluded.timed_runs),
           p50_response_ms = private.retention_weighted(m.p50_response_ms, m.timed_runs,
                                                        excluded.p50_response_ms, excluded.timed_runs),
           p95_response_ms = private.retention_weighted(m.p95_response_ms, m.timed_runs,
                                                        excluded.p95_response_ms, excluded.timed_runs),
           p99_response_ms = private.retention_weighted(m.p99_response_ms, m.timed_runs,
                                                        excluded.p99_response_ms, excluded.timed_runs),
           min_response_ms = least(m.min_response_ms, excluded.min_response_ms),
           max_response_ms = greatest(m.max_response_ms, excluded.max_response_ms),
           success_rate = (m.successful_runs + excluded.successful_runs)::double precision
                          / nullif(m.total_runs + excluded.total_runs, 0)
    returning 1
    )
    select pg_catalog.count(*)::integer into v_count from doomed;
    return v_count;
end;
$$;
comment on function private.retention_rollup_daily_metrics(timestamptz, uuid[], uuid[]) is
    'Delete the given expired daily metrics rows and fold them into performance_metrics_monthly; '
    'returns the number of daily rows removed.';

-- Mean of two weighted means (null-safe): the merge step of the monthly roll-up.
create function private.retention_weighted(
    p_a double precision, p_wa integer, p_b double precision, p_wb integer
) returns double precision
language sql
immutable
set search_path = ''
as $$
    select case
        when p_a is null or coalesce(p_wa, 0) = 0 then p_b
        when p_b is null or coalesce(p_wb, 0) = 0 then p_a
        else (p_a * p_wa + p_b * p_wb) / (p_wa + p_wb)
    end
$$;
comment on function private.retention_weighted(double precision, integer, double precision, integer) is
    'Weighted mean of two weighted means; the other one when a side is null or has no weight.';

-- ------------------------------------------------------------- retention_purge
-- The delete half of retention, without archiving, for pg_cron on hosted Supabase:
--   select cron.schedule('runner-retention', '17 3 * * *', 'call public.retention_purge()');
-- One chunk per transaction (a procedure may COMMIT only when SECURITY INVOKER and
-- called at top level, as pg_cron does). Archiving needs the CLI (docs/retention.md).
create procedure public.retention_purge(p_chunk_size integer default 5000)
language plpgsql
as $$
declare
    v_as_of timestamptz := pg_catalog.now();
    v_ids uuid[];
    v_total bigint;
    v_phase text;
begin
    if not private.caller_is_system() then
        raise exception using errcode = 'insufficient_privilege',
            message = 'only the service role may apply retention';
    end if;
    if p_chunk_size is null or p_chunk_size < 1 then
        raise exception using errcode = 'invalid_parameter_value', message = 'p_chunk_size must be >= 1';
    end if;
    foreach v_phase in array array['contexts', 'results', 'runs', 'metrics_daily', 'metrics_monthly'] loop
        v_total := 0;
        loop
            if v_phase = 'contexts' then
                select pg_catalog.array_agg(e.id) into v_ids
                  from (select x.id from private.retention_expired_contexts(v_as_of) as x
                         limit p_chunk_size) as e;
                delete from public.test_execution_context where id = any (v_ids);
            elsif v_phase = 'results' then
                select pg_catalog.array_agg(e.id) into v_ids
                  from (select x.id from private.retention_expired_results(v_as_of) as x
                         limit p_chunk_size) as e;
                delete from public.test_results where id = any (v_ids);
            elsif v_phase = 'runs' then
                select pg_catalog.array_agg(e.id) into v_ids
                  from (select x.id from private.retention_expired_runs(v_as_of) as x
                         limit p_chunk_size) as e;
                delete from public.test_runs where id = any (v_ids);
            elsif v_phase = 'metrics_daily' then
                select pg_catalog.array_agg(e.id) into v_ids
                  from (select x.id from private.retention_expired_daily_metrics(v_as_of) as x
                         limit p_chunk_size) as e;
                if v_ids is not null then
                    perform private.retention_rollup_daily_metrics(v_as_of, null, v_ids);
                end if;
            else
                select pg_catalog.array_agg(e.id) into v_ids
                  from (select x.id from private.retention_expired_monthly_metrics(v_as_of) as x
                         limit p_chunk_size) as e;
                delete from public.performance_metrics_monthly where id = any (v_ids);
            end if;
            exit when v_ids is null;
            v_total := v_total + pg_catalog.cardinality(v_ids);
            commit;
        end loop;
        raise notice 'retention_purge: % %', v_phase, v_total;
    end loop;
end;
$$;
comment on procedure public.retention_purge(integer) is
    'Delete (without archiving) everything the retention policy expires, one chunk per transaction. '
    'Service role only; for pg_cron. `python -m runner retention` archives first.';
revoke execute on procedure public.retention_purge(integer) from public, anon, authenticated;
grant execute on procedure public.retention_purge(integer) to service_role;

revoke execute on all functions in schema private from public;
grant execute on function
    private.retention_expired_contexts(timestamptz, uuid[], uuid[]),
    private.retention_expired_results(timestamptz, uuid[], uuid[]),
    private.retention_expired_runs(timestamptz, uuid[], uuid[]),
    private.retention_expired_daily_metrics(timestamptz, uuid[], uuid[]),
    private.retention_expired_monthly_metrics(timestamptz, uuid[], uuid[]),
    private.retention_rollup_daily_metrics(timestamptz, uuid[], uuid[]),
    private.retention_weighted(double precision, integer, double precision, integer)
    to service_role;
