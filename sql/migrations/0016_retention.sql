-- Retention: the seed's policy as data, the monthly roll-up of performance metrics,
-- and the journal that makes `python -m runner retention` resumable.
--
-- The policy (docs/retention.md):
--   passed (and skipped) results  90 days     failed (and errored) results  180 days
--   daily performance metrics     90 days, then rolled up into monthly rows
--   monthly performance metrics   2 years     runs                          1 year
--   execution contexts            24 hours    pinned runs and all they own: never
-- One row per project overrides it; a project without a row gets the defaults
-- (the view retention_policy_effective resolves them).

-- ---------------------------------------------------------- retention_policies
create table public.retention_policies (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null references public.projects (id) on delete cascade,
    passed_results_days integer not null default 90 check (passed_results_days >= 1),
    failed_results_days integer not null default 180 check (failed_results_days >= 1),
    metrics_daily_days integer not null default 90 check (metrics_daily_days >= 1),
    metrics_days integer not null default 730 check (metrics_days >= 1),
    run_history_days integer not null default 365 check (run_history_days >= 1),
    context_hours integer not null default 24 check (context_hours >= 1),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint retention_policies_project_id_key unique (project_id),
    constraint retention_policies_metrics_order check (metrics_days >= metrics_daily_days)
);
alter table public.retention_policies enable row level security;
comment on table public.retention_policies is
    'Per-project retention policy (one row per project; projects without a row use the defaults).';
comment on column public.retention_policies.id is 'Primary key.';
comment on column public.retention_policies.organization_id is 'Owning organisation (copied from the project).';
comment on column public.retention_policies.project_id is 'The project (one policy per project).';
comment on column public.retention_policies.passed_results_days is
    'Days passed and skipped results are kept (by created_at).';
comment on column public.retention_policies.failed_results_days is
    'Days failed and errored results are kept (by created_at).';
comment on column public.retention_policies.metrics_daily_days is
    'Days daily performance_metrics rows are kept before being rolled up into performance_metrics_monthly.';
comment on column public.retention_policies.metrics_days is
    'Days performance metrics are kept at all: monthly rows whose month ended earlier are removed.';
comment on column public.retention_policies.run_history_days is
    'Days runs are kept (by started_at); test_run_history keeps their daily aggregate.';
comment on column public.retention_policies.context_hours is
    'Hours an execution context is kept after it was created (or sooner, at its expires_at).';
comment on column public.retention_policies.created_at is 'When the row was created.';
comment on column public.retention_policies.updated_at is 'When it last changed (trigger-maintained).';
create index retention_policies_organization_id_idx on public.retention_policies (organization_id);

create trigger inherit_scope before insert or update of project_id, organization_id
    on public.retention_policies
    for each row execute function private.inherit_scope('projects', 'project_id', 'organization_id');
create trigger set_updated_at before update on public.retention_policies
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
-- a policy change decides what gets deleted: keep who changed it
create trigger audit_change after insert or update or delete on public.retention_policies
    for each row execute function private.audit_change();

revoke all on public.retention_policies from public, anon, authenticated, service_role;
grant select, insert, update, delete on public.retention_policies to service_role;
grant select, insert, delete on public.retention_policies to authenticated;
grant update (passed_results_days, failed_results_days, metrics_daily_days, metrics_days,
              run_history_days, context_hours)
    on public.retention_policies to authenticated;
create policy "members read" on public.retention_policies
    for select to authenticated
    using (organization_id in (select private.user_org_ids('member')));
create policy "admins create" on public.retention_policies
    for insert to authenticated
    with check (organization_id in (select private.user_org_ids('admin')));
create policy "admins update" on public.retention_policies
    for update to authenticated
    using (organization_id in (select private.user_org_ids('admin')))
    with check (organization_id in (select private.user_org_ids('admin')));
create policy "admins delete" on public.retention_policies
    for delete to authenticated
    using (organization_id in (select private.user_org_ids('admin')));

-- Every project with its effective policy. The literals repeat the column defaults
-- above (a test keeps them equal). security_invoker: callers see only their projects.
create view public.retention_policy_effective
with (security_invoker = true) as
select p.id as project_id,
       p.organization_id,
       p.name as project_name,
       coalesce(r.passed_results_days, 90) as passed_results_days,
       coalesce(r.failed_results_days, 180) as failed_results_days,
       coalesce(r.metrics_daily_days, 90) as metrics_daily_days,
       coalesce(r.metrics_days, 730) as metrics_days,
       coalesce(r.run_history_days, 365) as run_history_days,
       coalesce(r.context_hours, 24) as context_hours,
       r.id is not null as customised
  from public.projects as p
  left join public.retention_policies as r on r.project_id = p.id;
comment on view public.retention_policy_effective is
    'Each project''s retention policy: its retention_policies row, or the defaults.';
revoke all on public.retention_policy_effective from public, anon, authenticated, service_role;
grant select on public.retention_policy_effective to authenticated, service_role;

-- ------------------------------------------------- performance_metrics_monthly
-- Daily rows older than metrics_daily_days are folded in here, then deleted. The
-- combination (exact for counts, min, max and the mean; an approximation for the
-- percentiles, see docs/retention.md) is associative, so a month can be filled by
-- several retention runs; rolled_dates makes folding the same day twice a no-op.
create table public.performance_metrics_monthly (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    test_case_id uuid not null references public.test_cases (id) on delete cascade,
    environment_id uuid references public.environments (id) on delete cascade,
    metric_month date not null check (extract(day from metric_month) = 1),
    rolled_dates date[] not null default '{}',
    total_runs integer not null default 0 check (total_runs >= 0),
    successful_runs integer not null default 0 check (successful_runs between 0 and total_runs),
    timed_runs integer not null default 0 check (timed_runs between 0 and total_runs),
    avg_response_ms double precision check (avg_response_ms is null or avg_response_ms >= 0),
    p50_response_ms double precision check (p50_response_ms is null or p50_response_ms >= 0),
    p95_response_ms double precision check (p95_response_ms is null or p95_response_ms >= 0),
    p99_response_ms double precision check (p99_response_ms is null or p99_response_ms >= 0),
    min_response_ms double precision check (min_response_ms is null or min_response_ms >= 0),
    max_response_ms double precision check (max_response_ms is null or max_response_ms >= 0),
    success_rate double precision check (success_rate is null or success_rate between 0 and 1),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint performance_metrics_monthly_group_key
        unique nulls not distinct (test_case_id, environment_id, metric_month)
);
alter table public.performance_metrics_monthly enable row level security;
comment on table public.performance_metrics_monthly is
    'Monthly roll-up of performance_metrics daily rows older than the policy''s metrics_daily_days.';
comment on column public.performance_metrics_monthly.id is 'Primary key.';
comment on column public.performance_metrics_monthly.organization_id is 'Owning organisation.';
comment on column public.performance_metrics_monthly.project_id is 'The project.';
comment on column public.performance_metrics_monthly.test_case_id is 'The test case.';
comment on column public.performance_metrics_monthly.environment_id is 'The environment (null: runs without a stored one).';
comment on column public.performance_metrics_monthly.metric_month is 'First day of the UTC month.';
comment on column public.performance_metrics_monthly.rolled_dates is 'The days folded in so far.';
comment on column public.performance_metrics_monthly.total_runs is 'Sum of the daily total_runs.';
comment on column public.performance_metrics_monthly.successful_runs is 'Sum of the daily successful_runs.';
comment on column public.performance_metrics_monthly.timed_runs is
    'Sum of total_runs over the days that had a response time: the weight of the means below.';
comment on column public.performance_metrics_monthly.avg_response_ms is
    'Mean of the daily averages weighted by total_runs (the exact monthly mean when every run had a response time).';
comment on column public.performance_metrics_monthly.p50_response_ms is
    'Approximation: mean of the daily p50 weighted by total_runs (not a true monthly median).';
comment on column public.performance_metrics_monthly.p95_response_ms is
    'Approximation: mean of the daily p95 weighted by total_runs.';
comment on column public.performance_metrics_monthly.p99_response_ms is
    'Approximation: mean of the daily p99 weighted by total_runs.';
comment on column public.performance_metrics_monthly.min_response_ms is 'Fastest response of the month (exact).';
comment on column public.performance_metrics_monthly.max_response_ms is 'Slowest response of the month (exact).';
comment on column public.performance_metrics_monthly.success_rate is 'successful_runs / total_runs.';
comment on column public.performance_metrics_monthly.created_at is 'When the row was created.';
comment on column public.performance_metrics_monthly.updated_at is 'When a day was last folded in (trigger-maintained).';
create index performance_metrics_monthly_organization_id_idx
    on public.performance_metrics_monthly (organization_id);
create index performance_metrics_monthly_project_month_idx
    on public.performance_metrics_monthly (project_id, metric_month desc);
create index performance_metrics_monthly_environment_idx
    on public.performance_metrics_monthly (environment_id);
create index performance_metrics_monthly_month_idx
    on public.performance_metrics_monthly (metric_month);

create trigger set_updated_at before update on public.performance_metrics_monthly
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger inherit_scope before insert on public.performance_metrics_monthly
    for each row when (new.organization_id is null or new.project_id is null)
    execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'project_id');

revoke all on public.performance_metrics_monthly from public, anon, authenticated, service_role;
grant select, insert, update, delete on public.performance_metrics_monthly to service_role;
grant select on public.performance_metrics_monthly to authenticated;
create policy "members read" on public.performance_metrics_monthly
    for select to authenticated
    using (organization_id in (select private.user_org_ids('member')));

-- Retention walks the monthly table by month and the daily table by date.
create index performance_metrics_metric_date_id_idx on public.performance_metrics (metric_date, id);

-- ----------------------------------------------------------- retention_journal
-- One row per chunk: which rows it takes (ids of the chunk's root table), where
-- its archive went, and how far it got. `pending` -> `archived` -> `deleted`. A
-- crashed run leaves `pending` (archived again, to the same keys) or `archived`
-- (only the delete is left). Written by the service connection only.
create table private.retention_journal (
    id uuid primary key default gen_random_uuid(),
    batch text not null,
    seq integer not null check (seq >= 1),
    phase text not null check (phase in ('contexts', 'results', 'runs', 'metrics_daily', 'metrics_monthly')),
    state text not null default 'pending' check (state in ('pending', 'archived', 'deleted')),
    as_of timestamptz not null,
    project_ids uuid[],
    ids uuid[] not null,
    archive_root text not null,
    archive_key text not null,
    manifest jsonb,
    created_at timestamptz not null default now(),
    archived_at timestamptz,
    deleted_at timestamptz,
    constraint retention_journal_batch_seq_key unique (batch, seq)
);
alter table private.retention_journal enable row level security;
comment on table private.retention_journal is
    'Progress of `python -m runner retention`, one row per chunk (pending, archived, deleted).';
create index retention_journal_open_idx on private.retention_journal (created_at)
    where state <> 'deleted';
revoke all on private.retention_journal from public, anon, authenticated, service_role;
grant select, insert, update, delete on private.retention_journal to service_role;
