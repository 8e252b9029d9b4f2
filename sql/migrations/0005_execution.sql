-- Execution: runs, their shared execution context, results and result details.
--
-- Users (editors) create runs; everything else here is written by the system: the
-- functions of 0010 (security definer, checking the caller) or the service role.
-- Result counters on test_runs are kept by the statement-level triggers of 0011.

-- -------------------------------------------------------------------- test_runs
create table public.test_runs (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null references public.projects (id) on delete cascade,
    suite_id uuid,
    suite_name text,
    environment_id uuid,
    environment_name text,
    status text not null default 'running'
        check (status in ('running', 'passed', 'failed', 'interrupted', 'error')),
    trigger text not null default 'cli' check (trigger in ('cli', 'ci', 'api', 'schedule', 'ui', 'pytest')),
    total_tests integer not null default 0 check (total_tests >= 0),
    passed_tests integer not null default 0 check (passed_tests >= 0),
    failed_tests integer not null default 0 check (failed_tests >= 0),
    errored_tests integer not null default 0 check (errored_tests >= 0),
    skipped_tests integer not null default 0 check (skipped_tests >= 0),
    completed_tests integer not null default 0 check (completed_tests >= 0),
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    duration_ms bigint check (duration_ms is null or duration_ms >= 0),
    created_by uuid default auth.uid() references public.users (id) on delete set null,
    pinned boolean not null default false,
    metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- a deleted suite or environment leaves the run (and its name) in the history
    constraint test_runs_suite_fkey foreign key (project_id, suite_id)
        references public.test_suites (project_id, id) on delete set null (suite_id),
    constraint test_runs_environment_fkey foreign key (project_id, environment_id)
        references public.environments (project_id, id) on delete set null (environment_id),
    constraint test_runs_counters_add_up
        check (completed_tests = passed_tests + failed_tests + errored_tests + skipped_tests),
    constraint test_runs_finished_iff_not_running check ((status = 'running') = (finished_at is null)),
    constraint test_runs_finished_after_start check (finished_at is null or finished_at >= started_at)
);
alter table public.test_runs enable row level security;
comment on table public.test_runs is 'One execution of a suite against an environment.';
comment on column public.test_runs.id is 'Primary key.';
comment on column public.test_runs.organization_id is 'Owning organisation (copied from the project).';
comment on column public.test_runs.project_id is 'The project (immutable).';
comment on column public.test_runs.suite_id is 'The suite run (same project); null once the suite is deleted.';
comment on column public.test_runs.suite_name is 'Suite name at run time (kept when the suite is deleted).';
comment on column public.test_runs.environment_id is 'The environment (same project), if stored; null once deleted.';
comment on column public.test_runs.environment_name is 'Environment name at run time (also for environments defined only in the suite file).';
comment on column public.test_runs.status is 'running until finished, then passed, failed, interrupted or error.';
comment on column public.test_runs.trigger is 'What started the run: cli, ci, api, schedule, ui or pytest.';
comment on column public.test_runs.total_tests is 'Number of results the run is expected to produce (planned tests and data rows).';
comment on column public.test_runs.passed_tests is 'Results with status passed (trigger-maintained).';
comment on column public.test_runs.failed_tests is 'Results with status failed (trigger-maintained).';
comment on column public.test_runs.errored_tests is 'Results with status error (trigger-maintained).';
comment on column public.test_runs.skipped_tests is 'Results with status skipped (trigger-maintained).';
comment on column public.test_runs.completed_tests is 'All results recorded so far (trigger-maintained).';
comment on column public.test_runs.started_at is 'When the run started.';
comment on column public.test_runs.finished_at is 'When it finished; null while running.';
comment on column public.test_runs.duration_ms is 'finished_at - started_at in ms (set when the run finishes).';
comment on column public.test_runs.created_by is 'User who started it (null for the service role).';
comment on column public.test_runs.pinned is 'Pinned runs are kept by retention clean-ups.';
comment on column public.test_runs.metadata is 'Free-form facts about the run (git sha, CI job, runner version...); no secrets.';
comment on column public.test_runs.created_at is 'When the row was created.';
comment on column public.test_runs.updated_at is 'When it last changed (trigger-maintained).';
create index test_runs_organization_id_idx on public.test_runs (organization_id);
create index test_runs_lookup_idx on public.test_runs (project_id, status, created_at desc);
create index test_runs_project_created_idx on public.test_runs (project_id, created_at desc);
create index test_runs_suite_idx on public.test_runs (project_id, suite_id, started_at desc);
create index test_runs_environment_idx on public.test_runs (project_id, environment_id);
create index test_runs_created_by_idx on public.test_runs (created_by);

create trigger inherit_scope before insert or update of project_id, organization_id
    on public.test_runs
    for each row execute function private.inherit_scope('projects', 'project_id', 'organization_id');
create trigger set_updated_at before update on public.test_runs
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

-- Whoever ends a run (finish_run, or the service role directly) gets finished_at and
-- duration_ms filled in.
create function private.test_runs_finish_times() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.status <> 'running' then
        new.finished_at := coalesce(new.finished_at, pg_catalog.now());
        new.duration_ms := coalesce(
            new.duration_ms,
            pg_catalog.round(extract(epoch from (new.finished_at - new.started_at)) * 1000)::bigint
        );
    end if;
    return new;
end;
$$;
comment on function private.test_runs_finish_times() is
    'BEFORE INSERT/UPDATE OF status on test_runs: a finished run gets finished_at and duration_ms.';
create trigger finish_times before insert or update of status on public.test_runs
    for each row execute function private.test_runs_finish_times();

-- ------------------------------------------------------- test_execution_context
create table public.test_execution_context (
    id uuid primary key default gen_random_uuid(),
    run_id uuid not null references public.test_runs (id) on delete cascade,
    organization_id uuid not null,
    project_id uuid not null,
    shared_auth_tokens jsonb not null default '{}'::jsonb
        check (jsonb_typeof(shared_auth_tokens) = 'object'),
    shared_variables jsonb not null default '{}'::jsonb check (jsonb_typeof(shared_variables) = 'object'),
    captured_data jsonb not null default '{}'::jsonb check (jsonb_typeof(captured_data) = 'object'),
    test_order jsonb not null default '[]'::jsonb check (jsonb_typeof(test_order) = 'array'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    expires_at timestamptz not null default (now() + interval '24 hours'),
    constraint test_execution_context_run_id_key unique (run_id)
);
alter table public.test_execution_context enable row level security;
comment on table public.test_execution_context is
    'What the tests of one run share while it runs: tokens, variables, captured values. Removed after expires_at.';
comment on column public.test_execution_context.id is 'Primary key.';
comment on column public.test_execution_context.run_id is 'The run (one context per run).';
comment on column public.test_execution_context.organization_id is 'Owning organisation (copied from the run).';
comment on column public.test_execution_context.project_id is 'The project (copied from the run).';
comment on column public.test_execution_context.shared_auth_tokens is
    'Token name -> token as given by the writer (the runner stores ciphertext or a redaction, never plaintext).';
comment on column public.test_execution_context.shared_variables is 'Variables published by tests for later tests.';
comment on column public.test_execution_context.captured_data is
    'Captured values keyed by test key: {"login": {"user_id": ...}}; secret captures redacted.';
comment on column public.test_execution_context.test_order is 'The planned order of test keys (JSON array).';
comment on column public.test_execution_context.created_at is 'When the context was created.';
comment on column public.test_execution_context.updated_at is 'When it last changed (trigger-maintained).';
comment on column public.test_execution_context.expires_at is 'After this, cleanup_expired_contexts() deletes it.';
create index test_execution_context_organization_id_idx on public.test_execution_context (organization_id);
create index test_execution_context_expires_at_idx on public.test_execution_context (expires_at);

create trigger inherit_scope before insert on public.test_execution_context
    for each row when (new.organization_id is null or new.project_id is null)
    execute function private.inherit_scope('test_runs', 'run_id', 'organization_id', 'project_id');
create trigger set_updated_at before update on public.test_execution_context
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

-- ------------------------------------------------------------------ test_results
create table public.test_results (
    id uuid primary key default gen_random_uuid(),
    run_id uuid not null references public.test_runs (id) on delete cascade,
    organization_id uuid not null,
    project_id uuid not null,
    environment_id uuid references public.environments (id) on delete set null,
    test_case_id uuid,
    test_key text not null check (char_length(test_key) between 1 and 500),
    name text not null check (char_length(name) between 1 and 1000),
    row_index integer check (row_index is null or row_index >= 0),
    status text not null check (status in ('passed', 'failed', 'error', 'skipped')),
    error_category text check (error_category in (
        'assertion', 'timeout', 'connection', 'http_5xx', 'template',
        'capture', 'blocked', 'interrupted', 'bailed', 'internal'
    )),
    message text not null default '',
    started_at timestamptz,
    finished_at timestamptz,
    response_time_ms double precision check (response_time_ms is null or response_time_ms >= 0),
    status_code integer check (status_code is null or status_code between 100 and 599),
    passed_after_retry boolean not null default false,
    attempt_count integer not null default 0 check (attempt_count >= 0),
    request_snapshot jsonb check (request_snapshot is null or jsonb_typeof(request_snapshot) = 'object'),
    response_snapshot jsonb check (response_snapshot is null or jsonb_typeof(response_snapshot) = 'object'),
    captured jsonb not null default '{}'::jsonb check (jsonb_typeof(captured) = 'object'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- the test case of the run's project; deleting it keeps the result
    constraint test_results_test_case_fkey foreign key (project_id, test_case_id)
        references public.test_cases (project_id, id) on delete set null (test_case_id),
    constraint test_results_run_id_test_key_key unique (run_id, test_key),
    constraint test_results_passed_has_no_error check (status <> 'passed' or error_category is null),
    constraint test_results_finished_after_start
        check (finished_at is null or started_at is null or finished_at >= started_at)
);
alter table public.test_results enable row level security;
comment on table public.test_results is 'The outcome of one test, or one data row of a data-driven test, in a run.';
comment on column public.test_results.id is 'Primary key.';
comment on column public.test_results.run_id is 'The run.';
comment on column public.test_results.organization_id is 'Owning organisation (copied from the run).';
comment on column public.test_results.project_id is 'The project (copied from the run).';
comment on column public.test_results.environment_id is 'The environment (copied from the run).';
comment on column public.test_results.test_case_id is 'The stored test case, if the suite is stored; null once deleted.';
comment on column public.test_results.test_key is 'The test id, or id[row] for a data row; unique within the run.';
comment on column public.test_results.name is 'Human name of the test.';
comment on column public.test_results.row_index is 'Data row index for data-driven tests, else null.';
comment on column public.test_results.status is 'passed, failed (a check failed), error (could not complete) or skipped.';
comment on column public.test_results.error_category is
    'Why it did not pass: assertion, timeout, connection, http_5xx, template, capture, blocked, interrupted, bailed, internal.';
comment on column public.test_results.message is 'Human explanation (empty when passed).';
comment on column public.test_results.started_at is 'When the first attempt started (null if never sent).';
comment on column public.test_results.finished_at is 'When the test finished.';
comment on column public.test_results.response_time_ms is 'Response time of the last attempt in ms.';
comment on column public.test_results.status_code is 'HTTP status of the last response, if any.';
comment on column public.test_results.passed_after_retry is 'Passed, but not at the first attempt (flaky).';
comment on column public.test_results.attempt_count is 'Number of attempts made.';
comment on column public.test_results.request_snapshot is 'The request as sent, redacted and truncated.';
comment on column public.test_results.response_snapshot is 'The response as received, redacted and truncated.';
comment on column public.test_results.captured is 'Values captured from the response (secrets redacted).';
comment on column public.test_results.created_at is 'When the result was recorded.';
comment on column public.test_results.updated_at is 'When it last changed (trigger-maintained).';
create index test_results_run_id_idx on public.test_results (run_id, created_at);
create index test_results_created_at_idx on public.test_results (created_at desc);
create index test_results_organization_id_idx on public.test_results (organization_id);
create index test_results_environment_id_idx on public.test_results (environment_id);
-- performance_metrics recomputes one (test case, environment, UTC day) group from
-- this index; the expressions must match those in private.refresh_performance_metrics
create index test_results_metrics_group_idx on public.test_results (
    test_case_id,
    coalesce(environment_id, '00000000-0000-0000-0000-000000000000'::uuid),
    ((coalesce(started_at, created_at) at time zone 'UTC')::date)
) where test_case_id is not null;
create index test_results_project_case_idx on public.test_results (project_id, test_case_id)
    where test_case_id is not null;

create trigger inherit_scope before insert on public.test_results
    for each row when (new.organization_id is null or new.project_id is null)
    execute function private.inherit_scope('test_runs', 'run_id', 'organization_id', 'project_id', 'environment_id');
create trigger set_updated_at before update on public.test_results
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

-- ------------------------------------------------------------ test_result_details
create table public.test_result_details (
    id uuid primary key default gen_random_uuid(),
    result_id uuid not null references public.test_results (id) on delete cascade,
    organization_id uuid not null,
    kind text not null check (kind in ('assertion', 'attempt')),
    ordinal integer not null check (ordinal >= 1),
    name text,
    passed boolean,
    expected jsonb,
    actual jsonb,
    message text,
    started_at timestamptz,
    duration_ms double precision check (duration_ms is null or duration_ms >= 0),
    status_code integer check (status_code is null or status_code between 100 and 599),
    error_category text check (error_category in (
        'assertion', 'timeout', 'connection', 'http_5xx', 'template',
        'capture', 'blocked', 'interrupted', 'bailed', 'internal'
    )),
    error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint test_result_details_result_kind_ordinal_key unique (result_id, kind, ordinal),
    constraint test_result_details_assertion_shape
        check (kind <> 'assertion' or (name is not null and passed is not null)),
    constraint test_result_details_attempt_shape
        check (kind <> 'attempt' or (started_at is not null and duration_ms is not null))
);
alter table public.test_result_details enable row level security;
comment on table public.test_result_details is
    'Per-result detail rows: each evaluated check (kind assertion) and each attempt (kind attempt).';
comment on column public.test_result_details.id is 'Primary key.';
comment on column public.test_result_details.result_id is 'The result.';
comment on column public.test_result_details.organization_id is 'Owning organisation (copied from the result).';
comment on column public.test_result_details.kind is 'assertion (a check) or attempt (one try of the request).';
comment on column public.test_result_details.ordinal is 'Position among the result''s checks, or the attempt number (from 1).';
comment on column public.test_result_details.name is 'Check name (assertions).';
comment on column public.test_result_details.passed is 'Whether the check passed (assertions).';
comment on column public.test_result_details.expected is 'Expected value (assertions), JSON.';
comment on column public.test_result_details.actual is 'Seen value (assertions), JSON; redacted if secret.';
comment on column public.test_result_details.message is 'Explanation of the difference (assertions).';
comment on column public.test_result_details.started_at is 'When the attempt started (attempts).';
comment on column public.test_result_details.duration_ms is 'How long the attempt took in ms (attempts).';
comment on column public.test_result_details.status_code is 'Response status of the attempt, if any (attempts).';
comment on column public.test_result_details.error_category is 'Why the attempt failed, if it did (attempts).';
comment on column public.test_result_details.error is 'Error text of the attempt, if any (attempts).';
comment on column public.test_result_details.created_at is 'When the row was recorded.';
comment on column public.test_result_details.updated_at is 'When it last changed (trigger-maintained).';
-- (result_id, ...) is indexed by the unique key
create index test_result_details_organization_id_idx on public.test_result_details (organization_id);

create trigger inherit_scope before insert on public.test_result_details
    for each row when (new.organization_id is null)
    execute function private.inherit_scope('test_results', 'result_id', 'organization_id');
create trigger set_updated_at before update on public.test_result_details
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
