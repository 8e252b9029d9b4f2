-- Reporting: report templates (shared in an organisation), and each user's own
-- preferences and saved searches.

create table public.report_templates (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    project_id uuid,
    name text not null check (char_length(btrim(name)) between 1 and 200),
    description text,
    format text not null check (format in ('html', 'markdown', 'json', 'junit', 'csv')),
    template text not null default '',
    config jsonb not null default '{}'::jsonb check (jsonb_typeof(config) = 'object'),
    created_by uuid default auth.uid() references public.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- a project-specific template names a project of its own organisation
    constraint report_templates_project_fkey foreign key (organization_id, project_id)
        references public.projects (organization_id, id) on delete cascade,
    constraint report_templates_organization_id_name_key unique nulls not distinct (organization_id, project_id, name)
);
alter table public.report_templates enable row level security;
comment on table public.report_templates is 'How to render a run report; organisation-wide or for one project.';
comment on column public.report_templates.id is 'Primary key.';
comment on column public.report_templates.organization_id is 'Owning organisation.';
comment on column public.report_templates.project_id is 'The project it is for (same organisation), or null for all projects.';
comment on column public.report_templates.name is 'Name unique within its organisation and project.';
comment on column public.report_templates.description is 'Free text.';
comment on column public.report_templates.format is 'Output format: html, markdown, json, junit or csv.';
comment on column public.report_templates.template is 'Template text (jinja2, rendered sandboxed).';
comment on column public.report_templates.config is 'Options (sections, filters, columns) as JSON.';
comment on column public.report_templates.created_by is 'Who created it.';
comment on column public.report_templates.created_at is 'When the template was created.';
comment on column public.report_templates.updated_at is 'When it last changed (trigger-maintained).';
-- (organization_id, ...) is indexed by the unique key
create index report_templates_project_idx on public.report_templates (organization_id, project_id);
create index report_templates_created_by_idx on public.report_templates (created_by);

create function private.report_templates_organization_fixed() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception using errcode = 'check_violation',
        message = 'report_templates.organization_id cannot be changed';
end;
$$;
comment on function private.report_templates_organization_fixed() is
    'BEFORE UPDATE OF organization_id on report_templates: templates do not move between organisations.';
create trigger organization_fixed before update of organization_id on public.report_templates
    for each row when (old.organization_id is distinct from new.organization_id)
    execute function private.report_templates_organization_fixed();

create table public.user_preferences (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null default auth.uid() unique references public.users (id) on delete cascade,
    theme text not null default 'system' check (theme in ('system', 'light', 'dark')),
    timezone text not null default 'UTC' check (char_length(timezone) between 1 and 64),
    default_organization_id uuid references public.organizations (id) on delete set null,
    settings jsonb not null default '{}'::jsonb check (jsonb_typeof(settings) = 'object'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
alter table public.user_preferences enable row level security;
comment on table public.user_preferences is 'One user''s settings for the web UI and CLI; theirs alone.';
comment on column public.user_preferences.id is 'Primary key.';
comment on column public.user_preferences.user_id is 'The user (one row per user).';
comment on column public.user_preferences.theme is 'system, light or dark.';
comment on column public.user_preferences.timezone is 'IANA time zone used to show times.';
comment on column public.user_preferences.default_organization_id is 'Organisation opened by default (one the user belongs to).';
comment on column public.user_preferences.settings is 'Other settings as JSON.';
comment on column public.user_preferences.created_at is 'When the row was created.';
comment on column public.user_preferences.updated_at is 'When it last changed (trigger-maintained).';
create index user_preferences_default_organization_idx on public.user_preferences (default_organization_id);

create table public.saved_searches (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null default auth.uid() references public.users (id) on delete cascade,
    organization_id uuid references public.organizations (id) on delete cascade,
    name text not null check (char_length(btrim(name)) between 1 and 200),
    target text not null default 'test_results'
        check (target in ('test_runs', 'test_results', 'test_cases', 'failure_analysis', 'performance_metrics')),
    query jsonb not null default '{}'::jsonb check (jsonb_typeof(query) = 'object'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint saved_searches_user_id_name_key unique (user_id, name)
);
alter table public.saved_searches enable row level security;
comment on table public.saved_searches is 'A filter a user saved to reuse; their own alone.';
comment on column public.saved_searches.id is 'Primary key.';
comment on column public.saved_searches.user_id is 'Owner.';
comment on column public.saved_searches.organization_id is 'Organisation searched in (one the owner belongs to), or null.';
comment on column public.saved_searches.name is 'Name unique per owner.';
comment on column public.saved_searches.target is 'What is searched: test_runs, test_results, test_cases, failure_analysis or performance_metrics.';
comment on column public.saved_searches.query is 'The filter as JSON (PostgREST-style filters, order, limit).';
comment on column public.saved_searches.created_at is 'When the search was saved.';
comment on column public.saved_searches.updated_at is 'When it last changed (trigger-maintained).';
-- (user_id, name) unique key serves the owner lookups
create index saved_searches_organization_idx on public.saved_searches (organization_id);

create trigger set_updated_at before update on public.report_templates
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.user_preferences
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.saved_searches
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
