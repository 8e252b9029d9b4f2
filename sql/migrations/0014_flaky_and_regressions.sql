-- Analytics over the recorded history: per-project thresholds, quarantined test
-- cases, flaky-test detection, performance regressions and failure fingerprints
-- that include the endpoint. Definitions and examples: docs/analytics.md.
--
-- Everything is computed when a run finishes, by the AFTER UPDATE OF status
-- trigger `zz_analyse_finished_run` on test_runs. Triggers of one event fire in
-- name order, so it runs after every other finish trigger (run history, the daily
-- percentiles) and sees the day's performance_metrics already up to date.

-- ----------------------------------------------------------- analytics_settings
create table public.analytics_settings (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null references public.projects (id) on delete cascade,
    flaky_window_days integer not null default 7 check (flaky_window_days between 1 and 365),
    flaky_min_runs integer not null default 3 check (flaky_min_runs >= 1),
    flaky_failure_rate double precision not null default 0.10
        check (flaky_failure_rate >= 0 and flaky_failure_rate < 1),
    flaky_flip_rate double precision not null default 0.20
        check (flaky_flip_rate >= 0 and flaky_flip_rate < 1),
    flaky_recovered_rate double precision not null default 0.10
        check (flaky_recovered_rate >= 0 and flaky_recovered_rate < 1),
    regression_threshold double precision not null default 0.20 check (regression_threshold > 0),
    regression_baseline_days integer not null default 7
        check (regression_baseline_days between 1 and 365),
    regression_min_baseline_runs integer not null default 3 check (regression_min_baseline_runs >= 1),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint analytics_settings_project_id_key unique (project_id)
);
alter table public.analytics_settings enable row level security;
comment on table public.analytics_settings is
    'Per-project thresholds of flaky-test and regression detection (one row per project, created with it).';
comment on column public.analytics_settings.id is 'Primary key.';
comment on column public.analytics_settings.organization_id is 'Owning organisation (copied from the project).';
comment on column public.analytics_settings.project_id is 'The project (one row each).';
comment on column public.analytics_settings.flaky_window_days is
    'Flakiness looks at runs started in the last N days (default 7).';
comment on column public.analytics_settings.flaky_min_runs is
    'A test needs at least this many counted runs in the window to be judged (default 3).';
comment on column public.analytics_settings.flaky_failure_rate is
    'Flaky when failures / runs exceeds this while not always failing (default 0.10).';
comment on column public.analytics_settings.flaky_flip_rate is
    'Flaky when pass<->fail flips / (runs - 1) exceeds this (default 0.20).';
comment on column public.analytics_settings.flaky_recovered_rate is
    'Flaky when runs passed only after retries / runs exceeds this (default 0.10).';
comment on column public.analytics_settings.regression_threshold is
    'A regression is a day''s p95 more than this fraction above the baseline (default 0.20 = 20 %).';
comment on column public.analytics_settings.regression_baseline_days is
    'The baseline is the trailing N days before the day (default 7).';
comment on column public.analytics_settings.regression_min_baseline_runs is
    'No verdict unless the baseline days hold at least this many results (default 3).';
comment on column public.analytics_settings.created_at is 'When the row was created.';
comment on column public.analytics_settings.updated_at is 'When it last changed (trigger-maintained).';
create index analytics_settings_organization_id_idx on public.analytics_settings (organization_id);

create trigger inherit_scope before insert or update of project_id, organization_id
    on public.analytics_settings
    for each row execute function private.inherit_scope('projects', 'project_id', 'organization_id');
create trigger set_updated_at before update on public.analytics_settings
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

-- Every project has its row, so the defaults live in one place (the column defaults).
create function private.create_analytics_settings() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into public.analytics_settings (organization_id, project_id)
    values (new.organization_id, new.id)
    on conflict (project_id) do nothing;
    return null;
end;
$$;
comment on function private.create_analytics_settings() is
    'AFTER INSERT on projects: give the project its analytics_settings row (defaults).';
create trigger create_analytics_settings after insert on public.projects
    for each row execute function private.create_analytics_settings();
insert into public.analytics_settings (organization_id, project_id)
select p.organization_id, p.id from public.projects as p
on conflict (project_id) do nothing;

-- ------------------------------------------------------------- test_quarantines
create table public.test_quarantines (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    test_case_id uuid not null,
    reason text not null check (char_length(btrim(reason)) between 1 and 1000),
    quarantined_by uuid default auth.uid() references public.users (id) on delete set null,
    quarantined_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint test_quarantines_test_case_fkey foreign key (project_id, test_case_id)
        references public.test_cases (project_id, id) on delete cascade,
    constraint test_quarantines_test_case_id_key unique (test_case_id)
);
alter table public.test_quarantines enable row level security;
comment on table public.test_quarantines is
    'Quarantined test cases: they still run and are recorded, but their failures do not fail the run.';
comment on column public.test_quarantines.id is 'Primary key.';
comment on column public.test_quarantines.organization_id is 'Owning organisation (copied from the test case).';
comment on column public.test_quarantines.project_id is 'The project (copied from the test case).';
comment on column public.test_quarantines.test_case_id is 'The quarantined test case (at most one row each).';
comment on column public.test_quarantines.reason is 'Why it is quarantined (required).';
comment on column public.test_quarantines.quarantined_by is 'Who quarantined it (null for the service role).';
comment on column public.test_quarantines.quarantined_at is 'Since when.';
comment on column public.test_quarantines.created_at is 'When the row was created.';
comment on column public.test_quarantines.updated_at is 'When it last changed (trigger-maintained).';
create index test_quarantines_organization_id_idx on public.test_quarantines (organization_id);
create index test_quarantines_project_idx on public.test_quarantines (project_id, test_case_id);
create index test_quarantines_quarantined_by_idx on public.test_quarantines (quarantined_by);

create trigger inherit_scope before insert or update of test_case_id, project_id, organization_id
    on public.test_quarantines
    for each row execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'project_id');
create trigger set_updated_at before update on public.test_quarantines
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
-- who lifted a quarantine, and when, is in the audit log
create trigger audit_change after insert or update or delete on public.test_quarantines
    for each row execute function private.audit_change();

-- A run is judged with the quarantines in force when it starts: they are noted in
-- its metadata (whichever path created it: direct insert, start_suite_run, RPC),
-- and the runner leaves those tests' failures out of the run's status.
create function private.note_quarantined_tests() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_tests jsonb;
begin
    select pg_catalog.jsonb_agg(c.stable_id order by c.stable_id) into v_tests
      from public.test_quarantines as q
      join public.test_cases as c on c.id = q.test_case_id
     where c.suite_id = new.suite_id;
    new.metadata := new.metadata - 'quarantined_tests';
    if v_tests is not null then
        new.metadata := new.metadata || pg_catalog.jsonb_build_object('quarantined_tests', v_tests);
    end if;
    return new;
end;
$$;
comment on function private.note_quarantined_tests() is
    'BEFORE INSERT on test_runs: metadata.quarantined_tests = the suite''s quarantined test ids (if any).';
create trigger note_quarantined_tests before insert on public.test_runs
    for each row execute function private.note_quarantined_tests();

-- -------------------------------------------------------- flaky_test_detections
create table public.flaky_test_detections (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    test_case_id uuid not null references public.test_cases (id) on delete cascade,
    environment_id uuid references public.environments (id) on delete cascade,
    run_id uuid references public.test_runs (id) on delete set null,
    detected_at timestamptz not null default now(),
    window_days integer not null check (window_days >= 1),
    runs integer not null check (runs >= 1),
    failures integer not null check (failures between 0 and runs),
    failure_rate double precision not null check (failure_rate between 0 and 1),
    flips integer not null check (flips >= 0 and flips < runs),
    flip_rate double precision check (flip_rate is null or flip_rate between 0 and 1),
    recovered_on_retry integer not null check (recovered_on_retry between 0 and runs),
    recovered_rate double precision not null check (recovered_rate between 0 and 1),
    reasons text[] not null check (
        cardinality(reasons) >= 1
        and reasons <@ array['failure_rate', 'flip_rate', 'recovered_rate']),
    resolved_at timestamptz,
    resolved_run_id uuid references public.test_runs (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint flaky_test_detections_resolved_after check (resolved_at is null or resolved_at >= detected_at)
);
alter table public.flaky_test_detections enable row level security;
comment on table public.flaky_test_detections is
    'A test case becoming flaky in an environment: opened by the run whose finish found it, '
    'resolved by the first later run that finds it no longer flaky.';
comment on column public.flaky_test_detections.id is 'Primary key.';
comment on column public.flaky_test_detections.organization_id is 'Owning organisation.';
comment on column public.flaky_test_detections.project_id is 'The project.';
comment on column public.flaky_test_detections.test_case_id is 'The flaky test case.';
comment on column public.flaky_test_detections.environment_id is 'The environment (null: runs without a stored environment).';
comment on column public.flaky_test_detections.run_id is 'The run whose finish detected it (null once deleted).';
comment on column public.flaky_test_detections.detected_at is 'When it was detected.';
comment on column public.flaky_test_detections.window_days is 'The window the figures below cover.';
comment on column public.flaky_test_detections.runs is 'Counted runs of the test in the window (skipped/blocked excluded).';
comment on column public.flaky_test_detections.failures is 'Of those, runs where it failed or errored.';
comment on column public.flaky_test_detections.failure_rate is 'failures / runs.';
comment on column public.flaky_test_detections.flips is 'Pass<->fail changes between consecutive counted runs.';
comment on column public.flaky_test_detections.flip_rate is 'flips / (runs - 1); null with one run.';
comment on column public.flaky_test_detections.recovered_on_retry is 'Runs where it passed, but only after retries.';
comment on column public.flaky_test_detections.recovered_rate is 'recovered_on_retry / runs.';
comment on column public.flaky_test_detections.reasons is
    'Which thresholds were exceeded: failure_rate, flip_rate, recovered_rate.';
comment on column public.flaky_test_detections.resolved_at is 'When a later run found it no longer flaky; null while open.';
comment on column public.flaky_test_detections.resolved_run_id is 'That run (null while open or once deleted).';
comment on column public.flaky_test_detections.created_at is 'When the row was created.';
comment on column public.flaky_test_detections.updated_at is 'When it last changed (trigger-maintained).';
create index flaky_test_detections_organization_id_idx on public.flaky_test_detections (organization_id);
create index flaky_test_detections_project_idx on public.flaky_test_detections (project_id, detected_at desc);
create index flaky_test_detections_environment_idx on public.flaky_test_detections (environment_id);
create index flaky_test_detections_run_idx on public.flaky_test_detections (run_id);
create index flaky_test_detections_resolved_run_idx on public.flaky_test_detections (resolved_run_id);
-- at most one open detection per test case and environment
create unique index flaky_test_detections_open_key on public.flaky_test_detections (
    test_case_id, coalesce(environment_id, '00000000-0000-0000-0000-000000000000'::uuid)
) where resolved_at is null;

create trigger set_updated_at before update on public.flaky_test_detections
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger inherit_scope before insert on public.flaky_test_detections
    for each row when (new.organization_id is null or new.project_id is null)
    execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'project_id');

-- -------------------------------------------------------- performance_regressions
create table public.performance_regressions (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    run_id uuid references public.test_runs (id) on delete set null,
    test_case_id uuid not null references public.test_cases (id) on delete cascade,
    environment_id uuid references public.environments (id) on delete cascade,
    metric_date date not null,
    p95_ms double precision not null check (p95_ms >= 0),
    baseline_p95_ms double precision not null check (baseline_p95_ms > 0),
    baseline_days integer not null check (baseline_days >= 1),
    baseline_runs integer not null check (baseline_runs >= 1),
    ratio double precision not null check (ratio > 0),
    threshold double precision not null check (threshold > 0),
    explanation text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint performance_regressions_run_case_day_key unique (run_id, test_case_id, metric_date)
);
alter table public.performance_regressions enable row level security;
comment on table public.performance_regressions is
    'A test case whose p95 on a day is more than threshold above its baseline, found when a run finished.';
comment on column public.performance_regressions.id is 'Primary key.';
comment on column public.performance_regressions.organization_id is 'Owning organisation.';
comment on column public.performance_regressions.project_id is 'The project.';
comment on column public.performance_regressions.run_id is 'The run whose finish found it (null once deleted).';
comment on column public.performance_regressions.test_case_id is 'The test case.';
comment on column public.performance_regressions.environment_id is 'The environment (null: runs without a stored environment).';
comment on column public.performance_regressions.metric_date is 'The UTC day of the p95 (performance_metrics.metric_date).';
comment on column public.performance_regressions.p95_ms is 'p95 response time of that day (performance_metrics).';
comment on column public.performance_regressions.baseline_p95_ms is
    'Baseline: mean of the daily p95 of the baseline days, weighted by each day''s total_runs.';
comment on column public.performance_regressions.baseline_days is 'How many days before metric_date the baseline covers.';
comment on column public.performance_regressions.baseline_runs is 'Results in the baseline days (sum of total_runs).';
comment on column public.performance_regressions.ratio is 'p95_ms / baseline_p95_ms.';
comment on column public.performance_regressions.threshold is 'The threshold in force (0.20 = flagged above 120 % of the baseline).';
comment on column public.performance_regressions.explanation is 'One sentence saying what was compared with what.';
comment on column public.performance_regressions.created_at is 'When the row was created.';
comment on column public.performance_regressions.updated_at is 'When it last changed (trigger-maintained).';
create index performance_regressions_organization_id_idx on public.performance_regressions (organization_id);
create index performance_regressions_project_idx on public.performance_regressions (project_id, metric_date desc);
create index performance_regressions_test_case_idx on public.performance_regressions (test_case_id, metric_date desc);
create index performance_regressions_environment_idx on public.performance_regressions (environment_id);

create trigger set_updated_at before update on public.performance_regressions
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger inherit_scope before insert on public.performance_regressions
    for each row when (new.organization_id is null or new.project_id is null)
    execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'project_id');

-- ---------------------------------------------------------------- grants and RLS
revoke all on public.analytics_settings, public.test_quarantines, public.flaky_test_detections,
    public.performance_regressions from public, anon, authenticated, service_role;
grant select, insert, update, delete on public.analytics_settings, public.test_quarantines,
    public.flaky_test_detections, public.performance_regressions to service_role;

-- settings: members read, editors change (the row comes with the project; it goes with it)
grant select, insert, update on public.analytics_settings to authenticated;
create policy "members read" on public.analytics_settings
    for select to authenticated
    using (organization_id in (select private.user_org_ids('member')));
create policy "editors create" on public.analytics_settings
    for insert to authenticated
    with check (organization_id in (select private.user_org_ids('editor')));
create policy "editors update" on public.analytics_settings
    for update to authenticated
    using (organization_id in (select private.user_org_ids('editor')))
    with check (organization_id in (select private.user_org_ids('editor')));

-- quarantine: as the test cases themselves
grant select, insert, update, delete on public.test_quarantines to authenticated;
create policy "members read" on public.test_quarantines
    for select to authenticated
    using (organization_id in (select private.user_org_ids('member')));
create policy "editors create" on public.test_quarantines
    for insert to authenticated
    with check (organization_id in (select private.user_org_ids('editor')));
create policy "editors update" on public.test_quarantines
    for update to authenticated
    using (organization_id in (select private.user_org_ids('editor')))
    with check (organization_id in (select private.user_org_ids('editor')));
create policy "editors delete" on public.test_quarantines
    for delete to authenticated
    using (organization_id in (select private.user_org_ids('editor')));

-- system-written analytics: read by members
grant select on public.flaky_test_detections, public.performance_regressions to authenticated;
create policy "members read" on public.flaky_test_detections
    for select to authenticated
    using (organization_id in (select private.user_org_ids('member')));
create policy "members read" on public.performance_regressions
    for select to authenticated
    using (organization_id in (select private.user_org_ids('member')));

-- ------------------------------------------------------------ flaky statistics
-- SECURITY INVOKER: through a view or a user's call, RLS decides which results
-- count; the finish trigger (security definer) sees them all.
create function public.flaky_test_stats(
    p_as_of timestamptz default now(),
    p_project_id uuid default null,
    p_test_case_ids uuid[] default null
) returns table (
    organization_id uuid,
    project_id uuid,
    test_case_id uuid,
    environment_id uuid,
    window_days integer,
    window_start timestamptz,
    window_end timestamptz,
    runs integer,
    failures integer,
    failure_rate double precision,
    flips integer,
    flip_rate double precision,
    recovered_on_retry integer,
    recovered_rate double precision,
    last_run_at timestamptz,
    is_flaky boolean,
    reasons text[]
)
language sql
stable
set search_path = ''
as $$
    with settings as (
        select s.*, p_as_of - pg_catalog.make_interval(days => s.flaky_window_days) as window_start
          from public.analytics_settings as s
         where p_project_id is null or s.project_id = p_project_id
    ),
    -- one outcome per (test case, environment, run): the run's final results of the
    -- test (one per data row), skipped ones and those cut short by the run excluded
    per_run as (
        select st.organization_id, st.project_id, r.test_case_id, run.environment_id,
               run.id as run_id, run.started_at,
               pg_catalog.bool_or(r.status in ('failed', 'error')) as failed,
               pg_catalog.bool_or(r.passed_after_retry) as retried_pass
          from settings as st
          join public.test_runs as run
            on run.project_id = st.project_id
           and run.status <> 'running'
           and run.started_at > st.window_start
           and run.started_at <= p_as_of
          join public.test_results as r on r.run_id = run.id
         where r.test_case_id is not null
           and r.status <> 'skipped'
           and coalesce(r.error_category, '') not in ('blocked', 'interrupted', 'bailed')
           and (p_test_case_ids is null or r.test_case_id = any (p_test_case_ids))
         group by st.organization_id, st.project_id, r.test_case_id, run.environment_id,
                  run.id, run.started_at
    ),
    ordered as (
        select pr.*,
               pg_catalog.lag(pr.failed) over (
                   partition by pr.test_case_id, pr.environment_id
                   order by pr.started_at, pr.run_id) as previous_failed
          from per_run as pr
    ),
    counted as (
        select o.organization_id, o.project_id, o.test_case_id, o.environment_id,
               pg_catalog.count(*)::integer as runs,
               (pg_catalog.count(*) filter (where o.failed))::integer as failures,
               (pg_catalog.count(*) filter (where o.previous_failed is not null
                                              and o.previous_failed <> o.failed))::integer as flips,
               (pg_catalog.count(*) filter (where not o.failed and o.retried_pass))::integer
                   as recovered_on_retry,
               pg_catalog.max(o.started_at) as last_run_at
          from ordered as o
         group by o.organization_id, o.project_id, o.test_case_id, o.environment_id
    ),
    rated as (
        select c.*,
               c.failures::double precision / c.runs as failure_rate,
               c.flips::double precision / nullif(c.runs - 1, 0) as flip_rate,
               c.recovered_on_retry::double precision / c.runs as recovered_rate
          from counted as c
    )
    select r.organization_id, r.project_id, r.test_case_id, r.environment_id,
           st.flaky_window_days, st.window_start, p_as_of,
           r.runs, r.failures, r.failure_rate, r.flips, r.flip_rate,
           r.recovered_on_retry, r.recovered_rate, r.last_run_at,
           pg_catalog.cardinality(v.reasons) > 0,
           v.reasons
      from rated as r
      join settings as st on st.project_id = r.project_id
     cross join lateral (
        select case when r.runs < st.flaky_min_runs then '{}'::text[]
               else pg_catalog.array_remove(array[
                   case when r.failure_rate > st.flaky_failure_rate and r.failures < r.runs
                        then 'failure_rate' end,
                   case when coalesce(r.flip_rate, 0) > st.flaky_flip_rate then 'flip_rate' end,
                   case when r.recovered_rate > st.flaky_recovered_rate then 'recovered_rate' end
               ], null) end as reasons
     ) as v
$$;
comment on function public.flaky_test_stats(timestamptz, uuid, uuid[]) is
    'Flakiness per test case and environment over each project''s window ending at p_as_of '
    '(runs, failures, flips, recovered-on-retry, their rates, the verdict and why). '
    'Security invoker: callers see only what RLS lets them read. See docs/analytics.md.';
revoke execute on function public.flaky_test_stats(timestamptz, uuid, uuid[])
    from public, anon, authenticated, service_role;
grant execute on function public.flaky_test_stats(timestamptz, uuid, uuid[]) to authenticated, service_role;

-- ------------------------------------------------------------ failure endpoints
-- "POST /cart/{captured.login.cart_id}": the method and path template of the test's
-- request, from its linked API endpoint or else its definition; without a test
-- case definition, the method and path of the request as sent with ids replaced.
create function private.endpoint_label(p_method text, p_url text) returns text
language sql
immutable
set search_path = ''
as $$
    select pg_catalog.upper(coalesce(nullif(p_method, ''), 'GET')) || ' ' ||
           coalesce(nullif(
               pg_catalog.regexp_replace(
               pg_catalog.regexp_replace(
               pg_catalog.regexp_replace(
               pg_catalog.regexp_replace(coalesce(p_url, ''),
                   '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*', ''),  -- scheme and host
                   '[?#].*$', ''),                             -- query and fragment
                   '\{\{-?\s*', '{', 'g'),                        -- {{ x }} -> {x}
                   '\s*-?\}\}', '}', 'g'),
               ''), '/')
$$;
comment on function private.endpoint_label(text, text) is
    'METHOD /path/template: scheme, host, query dropped; {{ expr }} written {expr}.';

create function private.result_endpoint(p_test_case_id uuid, p_request jsonb) returns text
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(
        (select coalesce(
                    e.method || ' ' || e.path,
                    case when c.definition ? 'request' then private.endpoint_label(
                        c.definition -> 'request' ->> 'method', c.definition -> 'request' ->> 'url') end)
           from public.test_cases as c
           left join public.api_endpoints as e on e.id = c.api_endpoint_id
          where c.id = p_test_case_id),
        case when p_request ? 'url' then pg_catalog.regexp_replace(
            private.endpoint_label(p_request ->> 'method', p_request ->> 'url'),
            '/([0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?=/|$)',
            '/{id}', 'g') end,
        '')
$$;
comment on function private.result_endpoint(uuid, jsonb) is
    'The endpoint of a failure fingerprint: linked endpoint, else the definition''s request, '
    'else the request as sent with numeric and uuid segments written {id}; '''' if none.';

alter table public.failure_analysis add column endpoint text not null default '';
comment on column public.failure_analysis.endpoint is
    'METHOD /path/template of the failing test''s request ('''' if unknown); part of the fingerprint.';
comment on column public.failure_analysis.fingerprint is
    'md5 of error_category, endpoint and normalized_message: the group key.';
comment on table public.failure_analysis is
    'Recurring failures of a test case, grouped by category, endpoint and normalised message.';
create index failure_analysis_project_fingerprint_idx on public.failure_analysis (project_id, fingerprint);

-- existing groups: their endpoint from the test case, and the new fingerprint (the
-- endpoint is the same for every group of one test case, so no two groups collide)
update public.failure_analysis as f
   set endpoint = private.result_endpoint(f.test_case_id, null),
       fingerprint = pg_catalog.md5(f.error_category || ':' || private.result_endpoint(f.test_case_id, null)
                                    || ':' || f.normalized_message);

create or replace function private.record_failures() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into public.failure_analysis as f (
        organization_id, project_id, test_case_id, fingerprint, error_category, endpoint,
        normalized_message, sample_message, first_seen, last_seen, occurrences, last_run_id
    )
    select pg_catalog.min(x.organization_id::text)::uuid,
           pg_catalog.min(x.project_id::text)::uuid,
           x.test_case_id,
           pg_catalog.md5(x.category || ':' || x.endpoint || ':' || x.normalized),
           x.category,
           x.endpoint,
           x.normalized,
           (pg_catalog.array_agg(x.message order by x.seen desc))[1],
           pg_catalog.min(x.seen),
           pg_catalog.max(x.seen),
           pg_catalog.count(*)::integer,
           (pg_catalog.array_agg(x.run_id order by x.seen desc))[1]
      from (
        select n.organization_id, n.project_id, n.test_case_id, n.run_id, n.message,
               coalesce(n.error_category, case n.status when 'failed' then 'assertion' else 'internal' end)
                   as category,
               private.result_endpoint(n.test_case_id, n.request_snapshot) as endpoint,
               private.normalize_error_message(n.message) as normalized,
               coalesce(n.finished_at, n.started_at, n.created_at) as seen
          from new_results as n
         where n.test_case_id is not null and n.status in ('failed', 'error')
      ) as x
     group by x.test_case_id, x.category, x.endpoint, x.normalized
    on conflict (test_case_id, fingerprint) do update
       set occurrences = f.occurrences + excluded.occurrences,
           first_seen = least(f.first_seen, excluded.first_seen),
           last_seen = greatest(f.last_seen, excluded.last_seen),
           sample_message = case when excluded.last_seen >= f.last_seen
                                 then excluded.sample_message else f.sample_message end,
           last_run_id = case when excluded.last_seen >= f.last_seen
                              then excluded.last_run_id else f.last_run_id end;
    return null;
end;
$$;
comment on function private.record_failures() is
    'AFTER INSERT statement trigger on test_results: count failed/errored results by fingerprint '
    '(category, endpoint, normalised message).';

-- ------------------------------------------------------------------ run events
-- Through the realtime helper of 0012 (topic run:<id>, per-run sequence). A
-- database without it (a partial install) still analyses; it only stays silent.
create function private.analytics_event(p_run_id uuid, p_type text, p_payload jsonb) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
    if pg_catalog.to_regprocedure('private.emit_run_event(uuid,text,jsonb)') is not null then
        perform private.emit_run_event(p_run_id, p_type, p_payload);
    end if;
end;
$$;
comment on function private.analytics_event(uuid, text, jsonb) is
    'Broadcast an analytics event on the run''s topic through private.emit_run_event (0012).';

-- ------------------------------------------------------------- flaky detection
create function private.detect_flaky_tests(p_run public.test_runs) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_stat record;
    v_id uuid;
begin
    for v_stat in
        select s.*, c.stable_id, c.name
          from public.flaky_test_stats(
                   p_run.started_at, p_run.project_id,
                   array(select distinct r.test_case_id from public.test_results as r
                          where r.run_id = p_run.id and r.test_case_id is not null)) as s
          join public.test_cases as c on c.id = s.test_case_id
         where s.environment_id is not distinct from p_run.environment_id
         order by c.stable_id
    loop
        -- serialise with another run finishing for the same test and environment
        perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
            'flaky:' || v_stat.test_case_id::text || ':' || coalesce(v_stat.environment_id::text, ''), 0));
        if v_stat.is_flaky then
            v_id := null;
            insert into public.flaky_test_detections (
                organization_id, project_id, test_case_id, environment_id, run_id, window_days,
                runs, failures, failure_rate, flips, flip_rate, recovered_on_retry, recovered_rate, reasons)
            values (
                v_stat.organization_id, v_stat.project_id, v_stat.test_case_id, v_stat.environment_id,
                p_run.id, v_stat.window_days, v_stat.runs, v_stat.failures, v_stat.failure_rate,
                v_stat.flips, v_stat.flip_rate, v_stat.recovered_on_retry, v_stat.recovered_rate,
                v_stat.reasons)
            on conflict (test_case_id, (coalesce(environment_id, '00000000-0000-0000-0000-000000000000'::uuid)))
                where resolved_at is null do nothing
            returning id into v_id;
            if v_id is not null then
                perform private.analytics_event(p_run.id, 'flaky_test_detected', pg_catalog.jsonb_build_object(
                    'detection_id', v_id,
                    'test_case_id', v_stat.test_case_id,
                    'test', v_stat.stable_id,
                    'name', v_stat.name,
                    'environment_id', v_stat.environment_id,
                    'window_days', v_stat.window_days,
                    'runs', v_stat.runs,
                    'failures', v_stat.failures,
                    'failure_rate', v_stat.failure_rate,
                    'flips', v_stat.flips,
                    'flip_rate', v_stat.flip_rate,
                    'recovered_on_retry', v_stat.recovered_on_retry,
                    'recovered_rate', v_stat.recovered_rate,
                    'reasons', pg_catalog.to_jsonb(v_stat.reasons)));
            end if;
        else
            update public.flaky_test_detections as d
               set resolved_at = greatest(pg_catalog.now(), d.detected_at), resolved_run_id = p_run.id
             where d.test_case_id = v_stat.test_case_id
               and d.environment_id is not distinct from v_stat.environment_id
               and d.resolved_at is null;
        end if;
    end loop;
end;
$$;
comment on function private.detect_flaky_tests(public.test_runs) is
    'Judge the test cases of a finished run: open a detection (and emit flaky_test_detected) '
    'for each newly flaky one, resolve the open detection of each one no longer flaky.';

-- ----------------------------------------------------- performance regressions
create function private.detect_regressions(p_run public.test_runs) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_settings public.analytics_settings;
    v_row record;
    v_id uuid;
begin
    select * into v_settings from public.analytics_settings where project_id = p_run.project_id;
    if v_settings.id is null then
        return;
    end if;
    for v_row in
        with days as (
            select distinct r.test_case_id,
                   ((coalesce(r.started_at, r.created_at) at time zone 'UTC')::date) as metric_date
              from public.test_results as r
             where r.run_id = p_run.id and r.test_case_id is not null and r.status <> 'skipped'
        )
        select d.test_case_id, d.metric_date, c.stable_id, c.name,
               today.p95_response_ms as p95, b.baseline, b.baseline_runs
          from days as d
          join public.test_cases as c on c.id = d.test_case_id
          join public.performance_metrics as today
            on today.test_case_id = d.test_case_id
           and today.environment_id is not distinct from p_run.environment_id
           and today.metric_date = d.metric_date
         cross join lateral (
            -- the run-weighted mean of the daily p95 over the baseline days
            select pg_catalog.sum(m.p95_response_ms * m.total_runs)
                       / nullif(pg_catalog.sum(m.total_runs), 0) as baseline,
                   pg_catalog.sum(m.total_runs)::integer as baseline_runs
              from public.performance_metrics as m
             where m.test_case_id = d.test_case_id
               and m.environment_id is not distinct from p_run.environment_id
               and m.metric_date >= d.metric_date - v_settings.regression_baseline_days
               and m.metric_date < d.metric_date
               and m.p95_response_ms is not null
               and m.total_runs > 0
         ) as b
         where today.p95_response_ms is not null
           and b.baseline > 0
           and b.baseline_runs >= v_settings.regression_min_baseline_runs
           -- numeric, so "exactly 20 % above" is not flagged by a rounding error
           and today.p95_response_ms::numeric > b.baseline::numeric * (1 + v_settings.regression_threshold::numeric)
         order by c.stable_id, d.metric_date
    loop
        v_id := null;
        insert into public.performance_regressions (
            organization_id, project_id, run_id, test_case_id, environment_id, metric_date,
            p95_ms, baseline_p95_ms, baseline_days, baseline_runs, ratio, threshold, explanation)
        values (
            p_run.organization_id, p_run.project_id, p_run.id, v_row.test_case_id, p_run.environment_id,
            v_row.metric_date, v_row.p95, v_row.baseline, v_settings.regression_baseline_days,
            v_row.baseline_runs, v_row.p95 / v_row.baseline, v_settings.regression_threshold,
            pg_catalog.format(
                'p95 %s ms on %s is %s %% above the baseline of %s ms (run-weighted mean of the daily p95 '
                'from %s to %s, %s results); flagged above +%s %%',
                pg_catalog.round(v_row.p95::numeric, 1), v_row.metric_date,
                pg_catalog.round((v_row.p95 / v_row.baseline - 1)::numeric * 100, 1),
                pg_catalog.round(v_row.baseline::numeric, 1),
                v_row.metric_date - v_settings.regression_baseline_days, v_row.metric_date - 1,
                v_row.baseline_runs,
                pg_catalog.round(v_settings.regression_threshold::numeric * 100, 1)))
        on conflict (run_id, test_case_id, metric_date) do nothing
        returning id into v_id;
        if v_id is not null then
            perform private.analytics_event(p_run.id, 'performance_degradation', pg_catalog.jsonb_build_object(
                'regression_id', v_id,
                'test_case_id', v_row.test_case_id,
                'test', v_row.stable_id,
                'name', v_row.name,
                'environment_id', p_run.environment_id,
                'metric_date', v_row.metric_date,
                'p95_ms', v_row.p95,
                'baseline_p95_ms', v_row.baseline,
                'ratio', v_row.p95 / v_row.baseline,
                'threshold', v_settings.regression_threshold));
        end if;
    end loop;
end;
$$;
comment on function private.detect_regressions(public.test_runs) is
    'Flag the test cases of a finished run whose day p95 exceeds the baseline by more than the '
    'threshold: a performance_regressions row and a performance_degradation event each.';

-- ------------------------------------------------------------ the finish trigger
create function private.analyse_finished_run() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform private.detect_flaky_tests(new);
    perform private.detect_regressions(new);
    return null;
end;
$$;
comment on function private.analyse_finished_run() is
    'AFTER UPDATE OF status on test_runs, last of its kind (zz_): flaky tests and regressions of the run.';
create trigger zz_analyse_finished_run after update of status on public.test_runs
    for each row when (old.status = 'running' and new.status <> 'running')
    execute function private.analyse_finished_run();

revoke execute on all functions in schema private from public;
