-- Configuration: projects, suites, test cases, endpoints, dependencies, request
-- configs, response specs, data fixtures and their use.
--
-- Every row carries organization_id (and project_id below a project), filled from
-- its parent by private.inherit_scope() so policies filter on a local column.
-- Composite foreign keys such as (suite_id, test_case_id) -> test_cases (suite_id, id)
-- make cross-parent links impossible (a dependency between suites, a fixture of
-- another project), which a plain key on id alone would allow.

-- --------------------------------------------------------------------- projects
create table public.projects (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    name text not null check (char_length(btrim(name)) between 1 and 200),
    slug text not null check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    description text,
    created_by uuid default auth.uid() references public.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint projects_organization_id_slug_key unique (organization_id, slug),
    -- target of composite keys that pin a row to a project of the same organisation
    constraint projects_organization_id_id_key unique (organization_id, id)
);
alter table public.projects enable row level security;
comment on table public.projects is 'An API under test, with its suites, environments and runs.';
comment on column public.projects.id is 'Primary key.';
comment on column public.projects.organization_id is 'Owning organisation (immutable).';
comment on column public.projects.name is 'Display name.';
comment on column public.projects.slug is 'Handle unique within the organisation.';
comment on column public.projects.description is 'Free text.';
comment on column public.projects.created_by is 'Who created it (null if unknown or deleted).';
comment on column public.projects.created_at is 'When the project was created.';
comment on column public.projects.updated_at is 'When it last changed (trigger-maintained).';
create index projects_created_by_idx on public.projects (created_by);

create function private.projects_organization_fixed() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception using errcode = 'check_violation',
        message = 'projects.organization_id cannot be changed';
end;
$$;
comment on function private.projects_organization_fixed() is
    'BEFORE UPDATE OF organization_id on projects: projects do not move between organisations.';
create trigger organization_fixed before update of organization_id on public.projects
    for each row when (old.organization_id is distinct from new.organization_id)
    execute function private.projects_organization_fixed();

-- ------------------------------------------------------------------ test_suites
create table public.test_suites (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null references public.projects (id) on delete cascade,
    name text not null check (char_length(btrim(name)) between 1 and 200),
    slug text not null check (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    description text,
    source_path text,
    settings jsonb not null default '{}'::jsonb check (jsonb_typeof(settings) = 'object'),
    content_hash text check (content_hash is null or content_hash ~ '^[0-9a-f]{16,128}$'),
    created_by uuid default auth.uid() references public.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint test_suites_project_id_slug_key unique (project_id, slug),
    constraint test_suites_project_id_id_key unique (project_id, id)
);
alter table public.test_suites enable row level security;
comment on table public.test_suites is 'A suite of dependent API tests (one YAML/JSON file, or one built in Python).';
comment on column public.test_suites.id is 'Primary key.';
comment on column public.test_suites.organization_id is 'Owning organisation (copied from the project).';
comment on column public.test_suites.project_id is 'The project (immutable).';
comment on column public.test_suites.name is 'Suite name as written in the suite file.';
comment on column public.test_suites.slug is 'Handle unique within the project.';
comment on column public.test_suites.description is 'Free text.';
comment on column public.test_suites.source_path is 'File the suite was loaded from, if any.';
comment on column public.test_suites.settings is
    'Suite-level settings (defaults, services, default_env) as JSON; secrets are references only.';
comment on column public.test_suites.content_hash is 'Hex digest of the suite definition, to detect changes.';
comment on column public.test_suites.created_by is 'Who created it.';
comment on column public.test_suites.created_at is 'When the suite was created.';
comment on column public.test_suites.updated_at is 'When it last changed (trigger-maintained).';
create index test_suites_organization_id_idx on public.test_suites (organization_id);
-- suites by project: the (project_id, slug) key
create index test_suites_created_by_idx on public.test_suites (created_by);

-- ------------------------------------------------------------------ api_endpoints
create table public.api_endpoints (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null references public.projects (id) on delete cascade,
    method text not null
        check (method in ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS')),
    path text not null check (path ~ '^/' and char_length(path) <= 2000),
    summary text,
    description text,
    tags text[] not null default '{}',
    deprecated boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint api_endpoints_project_id_method_path_key unique (project_id, method, path),
    constraint api_endpoints_project_id_id_key unique (project_id, id)
);
alter table public.api_endpoints enable row level security;
comment on table public.api_endpoints is 'An operation of the API under test (method + path template).';
comment on column public.api_endpoints.id is 'Primary key.';
comment on column public.api_endpoints.organization_id is 'Owning organisation (copied from the project).';
comment on column public.api_endpoints.project_id is 'The project (immutable).';
comment on column public.api_endpoints.method is 'HTTP method, upper case.';
comment on column public.api_endpoints.path is 'Path template starting with /, e.g. /carts/{id}.';
comment on column public.api_endpoints.summary is 'One-line description.';
comment on column public.api_endpoints.description is 'Free text.';
comment on column public.api_endpoints.tags is 'Labels for filtering (GIN-indexed).';
comment on column public.api_endpoints.deprecated is 'Whether the operation is deprecated.';
comment on column public.api_endpoints.created_at is 'When the endpoint was created.';
comment on column public.api_endpoints.updated_at is 'When it last changed (trigger-maintained).';
create index api_endpoints_organization_id_idx on public.api_endpoints (organization_id);
create index api_endpoints_tags_idx on public.api_endpoints using gin (tags);

-- ------------------------------------------------------------------- test_cases
create table public.test_cases (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    suite_id uuid not null,
    api_endpoint_id uuid,
    stable_id text not null check (stable_id ~ '^[A-Za-z][A-Za-z0-9_]*$' and char_length(stable_id) <= 200),
    name text not null check (char_length(btrim(name)) between 1 and 500),
    description text,
    tags text[] not null default '{}',
    enabled boolean not null default true,
    sort_order integer not null default 0 check (sort_order >= 0),
    definition jsonb not null default '{}'::jsonb check (jsonb_typeof(definition) = 'object'),
    content_hash text check (content_hash is null or content_hash ~ '^[0-9a-f]{16,128}$'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint test_cases_suite_fkey foreign key (project_id, suite_id)
        references public.test_suites (project_id, id) on delete cascade,
    -- an endpoint of the same project; deleting it only unlinks the case
    constraint test_cases_endpoint_fkey foreign key (project_id, api_endpoint_id)
        references public.api_endpoints (project_id, id) on delete set null (api_endpoint_id),
    constraint test_cases_suite_id_stable_id_key unique (suite_id, stable_id),
    constraint test_cases_suite_id_id_key unique (suite_id, id),
    constraint test_cases_project_id_id_key unique (project_id, id)
);
alter table public.test_cases enable row level security;
comment on table public.test_cases is 'One test of a suite: a request, its captures and checks.';
comment on column public.test_cases.id is 'Primary key.';
comment on column public.test_cases.organization_id is 'Owning organisation (copied from the suite).';
comment on column public.test_cases.project_id is 'The project (copied from the suite).';
comment on column public.test_cases.suite_id is 'The suite (immutable).';
comment on column public.test_cases.api_endpoint_id is 'The endpoint it exercises, if known (same project).';
comment on column public.test_cases.stable_id is
    'The test id from the suite file (an identifier), unique within the suite and stable across edits.';
comment on column public.test_cases.name is 'Human name (falls back to the id).';
comment on column public.test_cases.description is 'Free text.';
comment on column public.test_cases.tags is 'Labels for selecting tests.';
comment on column public.test_cases.enabled is 'Disabled tests are loaded but not run.';
comment on column public.test_cases.sort_order is 'Order of the test in its suite file.';
comment on column public.test_cases.definition is 'The full test definition (request, captures, checks) as JSON.';
comment on column public.test_cases.content_hash is 'Hex digest of the definition, to detect changes.';
comment on column public.test_cases.created_at is 'When the case was created.';
comment on column public.test_cases.updated_at is 'When it last changed (trigger-maintained).';
create index test_cases_organization_id_idx on public.test_cases (organization_id);
create index test_cases_suite_id_enabled_idx on public.test_cases (suite_id, enabled);
create index test_cases_api_endpoint_id_idx on public.test_cases (project_id, api_endpoint_id)
    where api_endpoint_id is not null;
create index test_cases_tags_idx on public.test_cases using gin (tags);

-- ------------------------------------------------------------ test_dependencies
create table public.test_dependencies (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    suite_id uuid not null,
    test_case_id uuid not null,
    depends_on_test_case_id uuid not null,
    dependency_type text not null default 'order' check (dependency_type in ('order', 'data', 'token')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint test_dependencies_test_case_fkey foreign key (suite_id, test_case_id)
        references public.test_cases (suite_id, id) on delete cascade,
    constraint test_dependencies_depends_on_fkey foreign key (suite_id, depends_on_test_case_id)
        references public.test_cases (suite_id, id) on delete cascade,
    constraint test_dependencies_no_self_edge check (test_case_id <> depends_on_test_case_id),
    constraint test_dependencies_pair_key unique (test_case_id, depends_on_test_case_id)
);
alter table public.test_dependencies enable row level security;
comment on table public.test_dependencies is
    'An explicit edge of the dependency graph: test_case_id runs after depends_on_test_case_id (same suite).';
comment on column public.test_dependencies.id is 'Primary key.';
comment on column public.test_dependencies.organization_id is 'Owning organisation (copied from the test case).';
comment on column public.test_dependencies.suite_id is 'The suite both tests belong to (copied from the test case).';
comment on column public.test_dependencies.test_case_id is 'The dependent test.';
comment on column public.test_dependencies.depends_on_test_case_id is 'The test it waits for.';
comment on column public.test_dependencies.dependency_type is
    'order (just after), data (uses its captures) or token (uses its auth token).';
comment on column public.test_dependencies.created_at is 'When the edge was created.';
comment on column public.test_dependencies.updated_at is 'When it last changed (trigger-maintained).';
create index test_dependencies_organization_id_idx on public.test_dependencies (organization_id);
-- dependencies by dependent test: the pair key; reverse lookups (who waits for me):
create index test_dependencies_depends_on_idx on public.test_dependencies (suite_id, depends_on_test_case_id);
create index test_dependencies_suite_test_idx on public.test_dependencies (suite_id, test_case_id);

-- ---------------------------------------------------------- test_request_configs
create table public.test_request_configs (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    test_case_id uuid not null unique,
    method text not null default 'GET'
        check (method in ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS')),
    url_template text not null check (char_length(url_template) between 1 and 4000),
    headers jsonb not null default '{}'::jsonb check (jsonb_typeof(headers) = 'object'),
    query jsonb not null default '{}'::jsonb check (jsonb_typeof(query) = 'object'),
    body_kind text not null default 'none' check (body_kind in ('none', 'json', 'form', 'text')),
    body jsonb,
    timeout_ms integer check (timeout_ms is null or timeout_ms between 1 and 3600000),
    retry_policy jsonb not null default '{}'::jsonb check (jsonb_typeof(retry_policy) = 'object'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint test_request_configs_test_case_fkey foreign key (project_id, test_case_id)
        references public.test_cases (project_id, id) on delete cascade,
    constraint test_request_configs_body_matches_kind check ((body_kind = 'none') = (body is null))
);
alter table public.test_request_configs enable row level security;
comment on table public.test_request_configs is 'The request of a test case, as templates (one per case).';
comment on column public.test_request_configs.id is 'Primary key.';
comment on column public.test_request_configs.organization_id is 'Owning organisation (copied from the test case).';
comment on column public.test_request_configs.project_id is 'The project (copied from the test case).';
comment on column public.test_request_configs.test_case_id is 'The test case (one config each).';
comment on column public.test_request_configs.method is 'HTTP method.';
comment on column public.test_request_configs.url_template is 'Path or absolute URL; may be a jinja2 template.';
comment on column public.test_request_configs.headers is 'Header name -> template.';
comment on column public.test_request_configs.query is 'Query parameter -> template.';
comment on column public.test_request_configs.body_kind is 'none, json, form or text; body is null exactly when none.';
comment on column public.test_request_configs.body is 'The body template (JSON value, form object, or JSON string for text).';
comment on column public.test_request_configs.timeout_ms is 'Per-attempt timeout in ms (null: the suite default).';
comment on column public.test_request_configs.retry_policy is 'Retry policy (count, backoff, on_status...) as JSON.';
comment on column public.test_request_configs.created_at is 'When the config was created.';
comment on column public.test_request_configs.updated_at is 'When it last changed (trigger-maintained).';
create index test_request_configs_organization_id_idx on public.test_request_configs (organization_id);
create index test_request_configs_project_case_idx on public.test_request_configs (project_id, test_case_id);

-- ----------------------------------------------------------- test_response_specs
create table public.test_response_specs (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    test_case_id uuid not null unique,
    expected_status integer[] not null default '{}'
        check (100 <= all (expected_status) and 599 >= all (expected_status)),
    checks jsonb not null default '[]'::jsonb check (jsonb_typeof(checks) = 'array'),
    json_schema jsonb check (json_schema is null or jsonb_typeof(json_schema) = 'object'),
    captures jsonb not null default '{}'::jsonb check (jsonb_typeof(captures) = 'object'),
    max_response_ms double precision check (max_response_ms is null or max_response_ms > 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint test_response_specs_test_case_fkey foreign key (project_id, test_case_id)
        references public.test_cases (project_id, id) on delete cascade
);
alter table public.test_response_specs enable row level security;
comment on table public.test_response_specs is 'What a test case expects of its response and captures from it (one per case).';
comment on column public.test_response_specs.id is 'Primary key.';
comment on column public.test_response_specs.organization_id is 'Owning organisation (copied from the test case).';
comment on column public.test_response_specs.project_id is 'The project (copied from the test case).';
comment on column public.test_response_specs.test_case_id is 'The test case (one spec each).';
comment on column public.test_response_specs.expected_status is 'Accepted status codes (empty: not checked).';
comment on column public.test_response_specs.checks is 'Checks on headers and JSON paths, as a JSON array.';
comment on column public.test_response_specs.json_schema is 'JSON Schema the body must satisfy, if any.';
comment on column public.test_response_specs.captures is 'Capture name -> where it comes from (json, header, cookie, status, regex).';
comment on column public.test_response_specs.max_response_ms is 'Response time limit in ms, if any.';
comment on column public.test_response_specs.created_at is 'When the spec was created.';
comment on column public.test_response_specs.updated_at is 'When it last changed (trigger-maintained).';
create index test_response_specs_organization_id_idx on public.test_response_specs (organization_id);
create index test_response_specs_project_case_idx on public.test_response_specs (project_id, test_case_id);

-- ------------------------------------------------------------ test_data_fixtures
create table public.test_data_fixtures (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null references public.projects (id) on delete cascade,
    name text not null check (char_length(btrim(name)) between 1 and 200),
    description text,
    tags text[] not null default '{}',
    data jsonb not null default '[]'::jsonb check (jsonb_typeof(data) = 'array'),
    source text check (source is null or char_length(source) <= 1000),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint test_data_fixtures_project_id_name_key unique (project_id, name),
    constraint test_data_fixtures_project_id_id_key unique (project_id, id)
);
alter table public.test_data_fixtures enable row level security;
comment on table public.test_data_fixtures is 'A named data set: rows a data-driven test runs once each.';
comment on column public.test_data_fixtures.id is 'Primary key.';
comment on column public.test_data_fixtures.organization_id is 'Owning organisation (copied from the project).';
comment on column public.test_data_fixtures.project_id is 'The project (immutable).';
comment on column public.test_data_fixtures.name is 'Name unique within the project.';
comment on column public.test_data_fixtures.description is 'Free text.';
comment on column public.test_data_fixtures.tags is 'Labels for filtering (GIN-indexed).';
comment on column public.test_data_fixtures.data is 'The rows, a JSON array of objects; no secrets.';
comment on column public.test_data_fixtures.source is 'CSV/JSON file the rows came from, if any.';
comment on column public.test_data_fixtures.created_at is 'When the fixture was created.';
comment on column public.test_data_fixtures.updated_at is 'When it last changed (trigger-maintained).';
create index test_data_fixtures_organization_id_idx on public.test_data_fixtures (organization_id);
create index test_data_fixtures_tags_idx on public.test_data_fixtures using gin (tags);

-- ----------------------------------------------------------------- fixture_usage
create table public.fixture_usage (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    fixture_id uuid not null,
    test_case_id uuid not null,
    alias text check (alias is null or alias ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint fixture_usage_fixture_fkey foreign key (project_id, fixture_id)
        references public.test_data_fixtures (project_id, id) on delete cascade,
    constraint fixture_usage_test_case_fkey foreign key (project_id, test_case_id)
        references public.test_cases (project_id, id) on delete cascade,
    constraint fixture_usage_fixture_id_test_case_id_key unique (fixture_id, test_case_id)
);
alter table public.fixture_usage enable row level security;
comment on table public.fixture_usage is 'Which test case uses which data fixture (same project).';
comment on column public.fixture_usage.id is 'Primary key.';
comment on column public.fixture_usage.organization_id is 'Owning organisation (copied from the test case).';
comment on column public.fixture_usage.project_id is 'The project (copied from the test case).';
comment on column public.fixture_usage.fixture_id is 'The fixture.';
comment on column public.fixture_usage.test_case_id is 'The test case using it.';
comment on column public.fixture_usage.alias is 'Name the rows are exposed under in templates (default: the fixture name).';
comment on column public.fixture_usage.created_at is 'When the link was created.';
comment on column public.fixture_usage.updated_at is 'When it last changed (trigger-maintained).';
create index fixture_usage_organization_id_idx on public.fixture_usage (organization_id);
create index fixture_usage_test_case_idx on public.fixture_usage (project_id, test_case_id);
create index fixture_usage_fixture_idx on public.fixture_usage (project_id, fixture_id);

-- --------------------------------------------------------------------- triggers
create trigger inherit_scope before insert or update of project_id, organization_id
    on public.test_suites
    for each row execute function private.inherit_scope('projects', 'project_id', 'organization_id');
create trigger inherit_scope before insert or update of project_id, organization_id
    on public.api_endpoints
    for each row execute function private.inherit_scope('projects', 'project_id', 'organization_id');
create trigger inherit_scope before insert or update of suite_id, project_id, organization_id
    on public.test_cases
    for each row execute function private.inherit_scope('test_suites', 'suite_id', 'organization_id', 'project_id');
create trigger inherit_scope before insert or update of test_case_id, suite_id, organization_id
    on public.test_dependencies
    for each row execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'suite_id');
create trigger inherit_scope before insert or update of test_case_id, project_id, organization_id
    on public.test_request_configs
    for each row execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'project_id');
create trigger inherit_scope before insert or update of test_case_id, project_id, organization_id
    on public.test_response_specs
    for each row execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'project_id');
create trigger inherit_scope before insert or update of project_id, organization_id
    on public.test_data_fixtures
    for each row execute function private.inherit_scope('projects', 'project_id', 'organization_id');
create trigger inherit_scope before insert or update of test_case_id, project_id, organization_id
    on public.fixture_usage
    for each row execute function private.inherit_scope('test_cases', 'test_case_id', 'organization_id', 'project_id');

create trigger set_updated_at before update on public.projects
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.test_suites
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.api_endpoints
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.test_cases
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.test_dependencies
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.test_request_configs
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.test_response_specs
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.test_data_fixtures
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.fixture_usage
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
