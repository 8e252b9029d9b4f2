-- Analytics: daily performance per test case and environment, daily run history per
-- suite and environment, and recurring failures. All three are derived data written
-- only by the triggers of 0011 (or the service role); they survive the deletion of
-- the runs they were computed from, which is what lets old runs be pruned.

-- ---------------------------------------------------------- performance_metrics
create table public.performance_metrics (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    test_case_id uuid not null references public.test_cases (id) on delete cascade,
    environment_id uuid references public.environments (id) on delete cascade,
    metric_date date not null,
    total_runs integer not null default 0 check (total_runs >= 0),
    successful_runs integer not null default 0 check (successful_runs between 0 and total_runs),
    avg_response_ms double precision check (avg_response_ms is null or avg_response_ms >= 0),
    p50_response_ms double precision check (p50_response_ms is null or p50_response_ms >= 0),
    p95_response_ms double precision check (p95_response_ms is null or p95_response_ms >= 0),
    p99_response_ms double precision check (p99_response_ms is null or p99_response_ms >= 0),
    min_response_ms double precision check (min_response_ms is null or min_response_ms >= 0),
    max_response_ms double precision check (max_response_ms is null or max_response_ms >= 0),
    success_rate double precision check (success_rate is null or success_rate between 0 and 1),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- environment_id may be null (an environment defined only in the suite file):
    -- those rows are one group too
    constraint performance_metrics_group_key
        unique nulls not distinct (test_case_id, environment_id, metric_date)
);
alter table public.performance_metrics enable row level security;
comment on table public.performance_metrics is
    'Response time and success per test case, environment and UTC day, recomputed from test_results.';
comment on column public.performance_metrics.id is 'Primary key.';
comment on column public.performance_metrics.organization_id is 'Owning organisation.';
comment on column public.performance_metrics.project_id is 'The project.';
comment on column public.performance_metrics.test_case_id is 'The test case.';
comment on column public.performance_metrics.environment_id is 'The environment; null for results of runs without a stored environment.';
comment on column public.performance_metrics.metric_date is 'UTC day of the results'' start (coalesce(started_at, created_at)).';
comment on column public.performance_metrics.total_runs is 'Results that day, skipped ones excluded.';
comment on column public.performance_metrics.successful_runs is 'Of those, results with status passed.';
comment on column public.performance_metrics.avg_response_ms is 'Mean response time (results with a response time).';
comment on column public.performance_metrics.p50_response_ms is 'Median response time (percentile_cont: linear interpolation).';
comment on column public.performance_metrics.p95_response_ms is '95th percentile response time (linear interpolation).';
comment on column public.performance_metrics.p99_response_ms is '99th percentile response time (linear interpolation).';
comment on column public.performance_metrics.min_response_ms is 'Fastest response time.';
comment on column public.performance_metrics.max_response_ms is 'Slowest response time.';
comment on column public.performance_metrics.success_rate is 'successful_runs / total_runs (null when total_runs is 0).';
comment on column public.performance_metrics.created_at is 'When the row was first computed.';
comment on column public.performance_metrics.updated_at is 'When it was last recomputed (trigger-maintained).';
create index performance_metrics_organization_id_idx on public.performance_metrics (organization_id);
create index performance_metrics_test_case_idx on public.performance_metrics (test_case_id);
create index performance_metrics_date_idx on public.performance_metrics (metric_date desc);
create index performance_metrics_lookup_idx
    on public.performance_metrics (test_case_id, environment_id, metric_date desc);
create index performance_metrics_environment_idx on public.performance_metrics (environment_id);
create index performance_metrics_project_date_idx on public.performance_metrics (project_id, metric_date desc);

-- -------------------------------------------------------------- test_run_history
create table public.test_run_history (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null references public.projects (id) on delete cascade,
    suite_id uuid references public.test_suites (id) on delete cascade,
    environment_id uuid references public.environments (id) on delete cascade,
    run_date date not null,
    total_runs integer not null default 0 check (total_runs >= 0),
    passed_runs integer not null default 0 check (passed_runs >= 0),
    failed_runs integer not null default 0 check (failed_runs >= 0),
    errored_runs integer not null default 0 check (errored_runs >= 0),
    interrupted_runs integer not null default 0 check (interrupted_runs >= 0),
    avg_duration_ms double precision check (avg_duration_ms is null or avg_duration_ms >= 0),
    total_tests integer not null default 0 check (total_tests >= 0),
    passed_tests integer not null default 0 check (passed_tests >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint test_run_history_group_key
        unique nulls not distinct (project_id, suite_id, environment_id, run_date),
    constraint test_run_history_runs_add_up
        check (total_runs = passed_runs + failed_runs + errored_runs + interrupted_runs)
);
alter table public.test_run_history enable row level security;
comment on table public.test_run_history is
    'Finished runs per project, suite, environment and UTC day, recomputed when a run finishes.';
comment on column public.test_run_history.id is 'Primary key.';
comment on column public.test_run_history.organization_id is 'Owning organisation.';
comment on column public.test_run_history.project_id is 'The project.';
comment on column public.test_run_history.suite_id is 'The suite (null for runs without a stored suite).';
comment on column public.test_run_history.environment_id is 'The environment (null for runs without a stored environment).';
comment on column public.test_run_history.run_date is 'UTC day the runs started.';
comment on column public.test_run_history.total_runs is 'Finished runs that day.';
comment on column public.test_run_history.passed_runs is 'Runs that passed.';
comment on column public.test_run_history.failed_runs is 'Runs that failed.';
comment on column public.test_run_history.errored_runs is 'Runs that ended in error.';
comment on column public.test_run_history.interrupted_runs is 'Runs that were interrupted.';
comment on column public.test_run_history.avg_duration_ms is 'Mean run duration in ms.';
comment on column public.test_run_history.total_tests is 'Results recorded by those runs.';
comment on column public.test_run_history.passed_tests is 'Of those, passed results.';
comment on column public.test_run_history.created_at is 'When the row was first computed.';
comment on column public.test_run_history.updated_at is 'When it was last recomputed (trigger-maintained).';
create index test_run_history_organization_id_idx on public.test_run_history (organization_id);
create index test_run_history_project_date_idx on public.test_run_history (project_id, run_date desc);
create index test_run_history_suite_idx on public.test_run_history (suite_id);
create index test_run_history_environment_idx on public.test_run_history (environment_id);

-- ------------------------------------------------------------- failure_analysis
create table public.failure_analysis (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    test_case_id uuid not null references public.test_cases (id) on delete cascade,
    fingerprint text not null check (fingerprint ~ '^[0-9a-f]{32}$'),
    error_category text not null check (error_category in (
        'assertion', 'timeout', 'connection', 'http_5xx', 'template',
        'capture', 'blocked', 'interrupted', 'bailed', 'internal'
    )),
    normalized_message text not null,
    sample_message text not null default '',
    first_seen timestamptz not null,
    last_seen timestamptz not null,
    occurrences integer not null default 1 check (occurrences >= 1),
    last_run_id uuid references public.test_runs (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint failure_analysis_test_case_fingerprint_key unique (test_case_id, fingerprint),
    constraint failure_analysis_seen_order check (last_seen >= first_seen)
);
alter table public.failure_analysis enable row level security;
comment on table public.failure_analysis is
    'Recurring failures of a test case, grouped by category and normalised message.';
comment on column public.failure_analysis.id is 'Primary key.';
comment on column public.failure_analysis.organization_id is 'Owning organisation.';
comment on column public.failure_analysis.project_id is 'The project.';
comment on column public.failure_analysis.test_case_id is 'The failing test case.';
comment on column public.failure_analysis.fingerprint is 'md5 of error_category and normalized_message: the group key.';
comment on column public.failure_analysis.error_category is 'Category of the failures in this group.';
comment on column public.failure_analysis.normalized_message is
    'Message with ids, numbers and quoted values replaced by placeholders.';
comment on column public.failure_analysis.sample_message is 'The latest original message of the group.';
comment on column public.failure_analysis.first_seen is 'First occurrence.';
comment on column public.failure_analysis.last_seen is 'Latest occurrence.';
comment on column public.failure_analysis.occurrences is 'Number of failed or errored results in the group.';
comment on column public.failure_analysis.last_run_id is 'Run of the latest occurrence (null once deleted).';
comment on column public.failure_analysis.created_at is 'When the group was first seen by the database.';
comment on column public.failure_analysis.updated_at is 'When it last changed (trigger-maintained).';
create index failure_analysis_organization_id_idx on public.failure_analysis (organization_id);
create index failure_analysis_project_last_seen_idx on public.failure_analysis (project_id, last_seen desc);
create index failure_analysis_last_run_idx on public.failure_analysis (last_run_id);

create trigger set_updated_at before update on public.performance_metrics
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.test_run_history
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.failure_analysis
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

-- The triggers of 0011 give the scope columns; a service-role writer may omit them.
create trigger inherit_scope before insert on public.performance_metrics
    for each row when (new.organization_id is null or new.project_id is null)
    execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'project_id');
create trigger inherit_scope before insert on public.test_run_history
    for each row when (new.organization_id is null)
    execute function private.inherit_scope('projects', 'project_id', 'organization_id');
create trigger inherit_scope before insert on public.failure_analysis
    for each row when (new.organization_id is null or new.project_id is null)
    execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'project_id');
