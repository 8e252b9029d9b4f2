-- Suite versions instead of overwrite-by-name, and heartbeats for runs (issue 14, items 2 and 4).
--
-- Before: a suite was keyed by its name, and every sync deleted the stored test cases the
-- file no longer had. Two runs of two files with the same name deleted each other's
-- cases while both were recording; the results of the first run then failed on their
-- foreign key. Now:
--
--   * a suite's identity is its declared id (`id:` in the file, or `run-suite
--     --suite-id`), else its name *and* its file: a different file with the same name
--     and no id is recorded as a separate suite (slug `<name>-<8 hex of its file>`), and
--     the caller is told (`separate_from` in the answer);
--   * every distinct content of a suite is a row of suite_versions (content hash over the
--     suite settings, each case's stable id and hash, and the edges), holding the ids of
--     its cases; a run records the version it loaded (test_runs.suite_version_id);
--   * a sync never deletes a test case: one row per (suite, stable id), so history stays
--     continuous across versions; test_suites.current_version_id says which cases the
--     suite has now (stored_suite returns those); cases in no version, and versions
--     neither current nor used by a run, are pruned by retention (phases `versions` and
--     `cases`, private.retention_unused_*).
--
-- Runs carry a heartbeat (test_runs.heartbeat_at, public.run_heartbeat) written by the
-- recording store every few seconds; public.reap_stale_runs marks a run whose heartbeat
-- is older than a limit `interrupted` (metadata.interrupted_reason = 'runner lost'),
-- which emits run_completed like any finish. It is called by the next command that
-- opens a store, by `runner serve` periodically, and can be scheduled with pg_cron.

-- ---------------------------------------------------------------- suite_versions
create table public.suite_versions (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    suite_id uuid not null,
    content_hash text not null check (content_hash ~ '^[0-9a-f]{16,128}$'),
    source_path text,
    case_ids uuid[] not null default '{}',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint suite_versions_suite_fkey foreign key (project_id, suite_id)
        references public.test_suites (project_id, id) on delete cascade,
    constraint suite_versions_suite_id_content_hash_key unique (suite_id, content_hash)
);
alter table public.suite_versions enable row level security;
comment on table public.suite_versions is
    'One distinct content of a suite: what a run loaded. Written by start_suite_run; pruned by '
    'retention once neither current nor used by a run.';
comment on column public.suite_versions.id is 'Primary key.';
comment on column public.suite_versions.organization_id is 'Owning organisation (copied from the suite).';
comment on column public.suite_versions.project_id is 'The project (copied from the suite).';
comment on column public.suite_versions.suite_id is 'The suite.';
comment on column public.suite_versions.content_hash is
    'Hex digest of the suite settings, every case''s stable id and content hash, and the edges.';
comment on column public.suite_versions.source_path is 'File this version was loaded from, if any.';
comment on column public.suite_versions.case_ids is 'The test cases (test_cases.id) of this version.';
comment on column public.suite_versions.created_at is 'When a run first loaded this version.';
comment on column public.suite_versions.updated_at is 'When it last changed (trigger-maintained).';
create index suite_versions_organization_id_idx on public.suite_versions (organization_id);
create index suite_versions_project_id_idx on public.suite_versions (project_id, suite_id);

create trigger inherit_scope before insert or update of suite_id, project_id, organization_id
    on public.suite_versions
    for each row execute function private.inherit_scope('test_suites', 'suite_id', 'organization_id', 'project_id');
create trigger set_updated_at before update on public.suite_versions
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

revoke all on public.suite_versions from public, anon, authenticated, service_role;
grant select, insert, update, delete on public.suite_versions to service_role;
-- editors create versions (start_suite_run runs with the caller's rights); nobody changes
-- or deletes one but the system (retention)
grant select, insert on public.suite_versions to authenticated;
create policy "members read" on public.suite_versions for select to authenticated
    using (organization_id in (select private.user_org_ids('member')));
create policy "editors create" on public.suite_versions for insert to authenticated
    with check (organization_id in (select private.user_org_ids('editor')));

-- ------------------------------------------------------------------ test_suites
alter table public.test_suites
    add column source_key text,
    add column current_version_id uuid references public.suite_versions (id) on delete set null;
comment on column public.test_suites.source_key is
    'Which file the suite is (path inside its git work tree, else absolute): with no declared '
    'id, another file with the same name is a separate suite.';
comment on column public.test_suites.current_version_id is
    'The version the latest run loaded: the suite''s cases now.';
create index test_suites_current_version_id_idx on public.test_suites (current_version_id);

-- ------------------------------------------------------------------ test_runs
alter table public.test_runs
    add column suite_version_id uuid references public.suite_versions (id) on delete set null,
    add column heartbeat_at timestamptz;
alter table public.test_runs alter column heartbeat_at set default now();
comment on column public.test_runs.suite_version_id is 'The suite version the run loaded.';
comment on column public.test_runs.heartbeat_at is
    'Last sign of life of the runner recording it (public.run_heartbeat); a running run whose '
    'heartbeat is too old is marked interrupted by public.reap_stale_runs.';
create index test_runs_suite_version_id_idx on public.test_runs (suite_version_id);
create index test_runs_running_idx on public.test_runs (project_id) where status = 'running';
-- runs still open when this migration runs get one now, so they are reaped only if they
-- stay silent past the limit
update public.test_runs set heartbeat_at = now() where status = 'running';

-- every stored suite gets one version holding its cases, current
insert into public.suite_versions (project_id, suite_id, content_hash, source_path, case_ids)
select s.project_id, s.id,
       pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to('before-0032:' || s.id::text, 'UTF8')), 'hex'),
       s.source_path,
       coalesce((select pg_catalog.array_agg(c.id order by c.sort_order) from public.test_cases as c
                  where c.suite_id = s.id), '{}')
  from public.test_suites as s;
update public.test_suites as s set current_version_id = v.id
  from public.suite_versions as v where v.suite_id = s.id;

alter table private.retention_journal drop constraint retention_journal_phase_check;
alter table private.retention_journal add constraint retention_journal_phase_check
    check (phase in ('contexts', 'results', 'runs', 'metrics_daily', 'metrics_monthly',
                     'versions', 'cases'));

-- ------------------------------------------------------------- start_suite_run
-- As 0023, plus: the suite found by its identity (above); the suite row locked while
-- it is synced (concurrent starts of one suite take turns instead of deadlocking on
-- its cases); no case deleted; the version recorded; the run's heartbeat started.
create or replace function public.start_suite_run(p_request jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_org_slug text := p_request ->> 'organization_slug';
    v_project_slug text := p_request ->> 'project_slug';
    v_suite jsonb := p_request -> 'suite';
    v_cases jsonb := coalesce(p_request -> 'cases', '[]'::jsonb);
    v_edges jsonb := coalesce(p_request -> 'edges', '[]'::jsonb);
    v_run jsonb := coalesce(p_request -> 'run', '{}'::jsonb);
    v_env_name text := p_request ->> 'environment';
    v_slug text := v_suite ->> 'slug';
    v_key text := v_suite ->> 'source_key';
    v_stored_key text;
    v_separate_from text;
    v_project_id uuid;
    v_suite_id uuid;
    v_version_hash text;
    v_version_id uuid;
    v_environment_id uuid;
    v_env jsonb;
    v_env_id uuid;
    v_run_id uuid;
    v_case_ids jsonb;
    v_metadata jsonb;
begin
    if v_org_slug is null or v_project_slug is null or v_suite is null
       or v_slug is null or v_suite ->> 'name' is null then
        raise exception using errcode = 'invalid_parameter_value',
            message = 'start_suite_run needs organization_slug, project_slug and suite {name, slug}';
    end if;
    if pg_catalog.jsonb_typeof(v_cases) <> 'array' or pg_catalog.jsonb_typeof(v_edges) <> 'array' then
        raise exception using errcode = 'invalid_parameter_value',
            message = 'start_suite_run: cases and edges must be JSON arrays';
    end if;

    insert into public.organizations (name, slug)
    values (coalesce(p_request ->> 'organization', v_org_slug), v_org_slug)
    on conflict (slug) do nothing;

    insert into public.projects (organization_id, name, slug)
    select o.id, coalesce(p_request ->> 'project', v_project_slug), v_project_slug
      from public.organizations as o
     where o.slug = v_org_slug
    on conflict (organization_id, slug) do nothing;

    select p.id into v_project_id
      from public.projects as p
      join public.organizations as o on o.id = p.organization_id
     where o.slug = v_org_slug and p.slug = v_project_slug;
    if v_project_id is null then
        raise exception using errcode = 'insufficient_privilege',
            message = pg_catalog.format('project %s of organisation %s is not visible to the caller',
                                        v_project_slug, v_org_slug);
    end if;

    -- identity: a declared id is the slug, whatever the file; without one, the first
    -- file recorded under a name owns it and another file gets its own suite
    if not coalesce((v_suite ->> 'declared')::boolean, false) then
        select s.source_key into v_stored_key
          from public.test_suites as s
         where s.project_id = v_project_id and s.slug = v_slug;
        if not found then
            -- first come, first served: a concurrent first run of another file waits
            -- here and then finds this one's key
            insert into public.test_suites as s
                   (project_id, name, slug, description, source_path, source_key, settings,
                    content_hash)
            values (v_project_id, v_suite ->> 'name', v_slug, v_suite ->> 'description',
                    v_suite ->> 'source_path', v_key, coalesce(v_suite -> 'settings', '{}'::jsonb),
                    v_suite ->> 'content_hash')
            on conflict (project_id, slug) do nothing;
            select s.source_key into v_stored_key
              from public.test_suites as s
             where s.project_id = v_project_id and s.slug = v_slug;
        end if;
        if v_key is not null and v_stored_key is not null and v_stored_key <> v_key
           and v_suite ->> 'alternate_slug' is not null then
            v_separate_from := v_stored_key;
            v_slug := v_suite ->> 'alternate_slug';
        end if;
    end if;

    insert into public.test_suites as s
           (project_id, name, slug, description, source_path, source_key, settings, content_hash)
    values (v_project_id, v_suite ->> 'name', v_slug, v_suite ->> 'description',
            v_suite ->> 'source_path', v_key, coalesce(v_suite -> 'settings', '{}'::jsonb),
            v_suite ->> 'content_hash')
    on conflict (project_id, slug) do update
       set name = excluded.name,
           description = excluded.description,
           source_path = excluded.source_path,
           source_key = excluded.source_key,
           settings = excluded.settings,
           content_hash = excluded.content_hash
     where s.content_hash is distinct from excluded.content_hash
        or s.source_key is distinct from coalesce(excluded.source_key, s.source_key);
    -- one sync of a suite at a time: concurrent starts wait here, not on each other's cases
    select s.id into v_suite_id
      from public.test_suites as s
     where s.project_id = v_project_id and s.slug = v_slug
       for no key update;

    insert into public.test_cases as tc
           (project_id, suite_id, stable_id, name, description, tags, enabled, sort_order,
            definition, content_hash)
    select v_project_id, v_suite_id, c.stable_id, c.name, c.description,
           coalesce(c.tags, '{}'::text[]), coalesce(c.enabled, true), c.sort_order,
           c.definition, c.content_hash
      from pg_catalog.jsonb_to_recordset(v_cases) as c (
           stable_id text, name text, description text, tags text[], enabled boolean,
           sort_order integer, definition jsonb, content_hash text)
     -- unchanged cases are not even proposed: each proposed row fires the
     -- BEFORE INSERT triggers, which for thousands of tests costs seconds
     where not exists (
           select 1 from public.test_cases as x
            where x.suite_id = v_suite_id and x.stable_id = c.stable_id
              and x.content_hash is not distinct from c.content_hash)
    on conflict (suite_id, stable_id) do update
       set name = excluded.name,
           description = excluded.description,
           tags = excluded.tags,
           enabled = excluded.enabled,
           sort_order = excluded.sort_order,
           definition = excluded.definition,
           content_hash = excluded.content_hash
     where tc.content_hash is distinct from excluded.content_hash;
    -- no delete: a case another version (and its runs) uses stays; retention prunes the
    -- cases no version has

    -- this version's tests by stable id, once; the edges below and the caller use it
    select pg_catalog.jsonb_object_agg(tc.stable_id, tc.id) into v_case_ids
      from pg_catalog.jsonb_to_recordset(v_cases) as c (stable_id text)
      join public.test_cases as tc on tc.suite_id = v_suite_id and tc.stable_id = c.stable_id;
    v_case_ids := coalesce(v_case_ids, '{}'::jsonb);

    v_version_hash := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        coalesce(v_suite ->> 'content_hash', '') || '|'
        || coalesce((select pg_catalog.string_agg(c.stable_id || '=' || coalesce(c.content_hash, ''),
                                                  ',' order by c.stable_id)
                       from pg_catalog.jsonb_to_recordset(v_cases) as c (stable_id text, content_hash text)), '')
        || '|'
        || coalesce((select pg_catalog.string_agg(e.dep || '>' || e.test || ':' || coalesce(e.type, ''),
                                                  ',' order by e.dep, e.test)
                       from pg_catalog.jsonb_to_recordset(v_edges) as e (dep text, test text, type text)), ''),
        'UTF8')), 'hex');
    insert into public.suite_versions (project_id, suite_id, content_hash, source_path, case_ids)
    select v_project_id, v_suite_id, v_version_hash, v_suite ->> 'source_path',
           coalesce(pg_catalog.array_agg(v.value::uuid), '{}')
      from pg_catalog.jsonb_each_text(v_case_ids) as v
    on conflict (suite_id, content_hash) do nothing;
    select v.id into v_version_id
      from public.suite_versions as v
     where v.suite_id = v_suite_id and v.content_hash = v_version_hash;
    update public.test_suites set current_version_id = v_version_id
     where id = v_suite_id and current_version_id is distinct from v_version_id;

    insert into public.test_dependencies as td
           (suite_id, test_case_id, depends_on_test_case_id, dependency_type)
    select v_suite_id, e.test_id, e.dep_id, e.type
      from (
        select (v_case_ids ->> r.test)::uuid as test_id, (v_case_ids ->> r.dep)::uuid as dep_id,
               r.type
          from pg_catalog.jsonb_to_recordset(v_edges) as r (test text, dep text, type text)
      ) as e
     where e.test_id is not null and e.dep_id is not null
       and not exists (
           select 1 from public.test_dependencies as x
            where x.test_case_id = e.test_id and x.depends_on_test_case_id = e.dep_id
              and x.dependency_type = e.type)
    on conflict (test_case_id, depends_on_test_case_id) do update
       set dependency_type = excluded.dependency_type
     where td.dependency_type is distinct from excluded.dependency_type;

    -- the edges are the current version's (no result refers to an edge)
    delete from public.test_dependencies as td
     using public.test_cases as t, public.test_cases as d
     where td.suite_id = v_suite_id
       and t.id = td.test_case_id and d.id = td.depends_on_test_case_id
       and not exists (
           select 1 from pg_catalog.jsonb_to_recordset(v_edges) as e (test text, dep text)
            where e.test = t.stable_id and e.dep = d.stable_id);

    for v_env in
        select e from pg_catalog.jsonb_array_elements(coalesce(p_request -> 'environments', '[]'::jsonb)) as e
    loop
        insert into public.environments as en (project_id, name, base_url)
        values (v_project_id, v_env ->> 'name', v_env ->> 'base_url')
        on conflict (project_id, name) do update set base_url = excluded.base_url
         where en.base_url is distinct from excluded.base_url;
        select en.id into v_env_id
          from public.environments as en
         where en.project_id = v_project_id and en.name = v_env ->> 'name';
        insert into public.environment_variables as ev (project_id, environment_id, name, value)
        select v_project_id, v_env_id, v.key, v.value
          from pg_catalog.jsonb_each_text(coalesce(v_env -> 'variables', '{}'::jsonb)) as v
        on conflict (environment_id, name) do update set value = excluded.value
         where ev.value is distinct from excluded.value and not ev.is_secret;
        if v_env ->> 'name' = v_env_name then
            v_environment_id := v_env_id;
        end if;
    end loop;

    insert into public.test_runs
           (project_id, suite_id, suite_version_id, suite_name, environment_id, environment_name,
            trigger, total_tests, metadata)
    values (v_project_id, v_suite_id, v_version_id, v_suite ->> 'name', v_environment_id,
            v_env_name, coalesce(v_run ->> 'trigger', 'cli'),
            coalesce((v_run ->> 'total_tests')::integer, 0),
            coalesce(v_run -> 'metadata', '{}'::jsonb))
    returning id, metadata into v_run_id, v_metadata;

    perform public.init_run_context(v_run_id, coalesce(p_request -> 'order', '[]'::jsonb));

    return pg_catalog.jsonb_build_object(
        'run_id', v_run_id,
        'project_id', v_project_id,
        'suite_id', v_suite_id,
        'suite_slug', v_slug,
        'suite_version_id', v_version_id,
        -- set when another file with the same name owns the name: that file's key
        'separate_from', v_separate_from,
        'environment_id', v_environment_id,
        'case_ids', v_case_ids,
        -- the suite's quarantined tests, as noted on the run by its insert trigger
        'quarantined', coalesce(v_metadata -> 'quarantined_tests', '[]'::jsonb));
end;
$$;

-- ------------------------------------------------------- stored suites by name
-- An exact slug wins over names (two files with one name are two suites, with
-- different slugs); the tests are the current version's. The suite comes back with
-- its slug as `id`, so running it by name records into the same suite.
create or replace function public.stored_suite(p_name text, p_project text)
returns jsonb
language sql
stable
set search_path = ''
as $$
    with candidates as (
        select s.id, s.name, s.slug, s.settings, s.source_path, s.current_version_id,
               p.slug as project, o.slug as organization, s.updated_at
          from public.test_suites as s
          join public.projects as p on p.id = s.project_id
          join public.organizations as o on o.id = s.organization_id
         where (s.name = p_name or s.slug = p_name)
           and (p_project is null or p.slug = p_project)
    ), found as (
        select * from candidates as c
         where c.slug = p_name or not exists (select 1 from candidates as x where x.slug = p_name)
    ), newest as (
        select * from found order by updated_at desc limit 1
    )
    select pg_catalog.jsonb_build_object(
        'matches', (
            select coalesce(
                pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object('project', f.project, 'organization',
                                                  f.organization, 'slug', f.slug)
                    order by f.updated_at desc
                ),
                '[]'::jsonb
            )
              from found as f
        ),
        'suite', (
            select pg_catalog.jsonb_build_object(
                'name', n.name,
                'settings', n.settings || pg_catalog.jsonb_build_object('id', n.slug),
                'source_path', n.source_path
            )
              from newest as n
        ),
        'tests', (
            select coalesce(
                pg_catalog.jsonb_agg(c.definition order by c.sort_order, c.stable_id),
                '[]'::jsonb
            )
              from public.test_cases as c
              join newest as n on n.id = c.suite_id
              left join public.suite_versions as v on v.id = n.current_version_id
             where v.id is null or c.id = any (v.case_ids)
        )
    );
$$;

create or replace function public.find_test_cases(p_suite text, p_test text, p_project text)
returns jsonb
language sql
stable
set search_path = ''
as $$
    with candidates as (
        select c.id, p.slug as project, s.slug
          from public.test_cases as c
          join public.test_suites as s on s.id = c.suite_id
          join public.projects as p on p.id = c.project_id
         where (s.name = p_suite or s.slug = p_suite)
           and c.stable_id = p_test
           and (p_project is null or p.slug = p_project)
    )
    select coalesce(
        pg_catalog.jsonb_agg(
            pg_catalog.jsonb_build_object('id', c.id, 'project', c.project) order by c.project
        ),
        '[]'::jsonb
    )
      from candidates as c
     where c.slug = p_suite or not exists (select 1 from candidates as x where x.slug = p_suite);
$$;

-- ------------------------------------------------------------------- heartbeat
create function public.run_heartbeat(p_run_id uuid) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
begin
    update public.test_runs set heartbeat_at = pg_catalog.now()
     where id = v_run.id and status = 'running';
    return found;
end;
$$;
comment on function public.run_heartbeat(uuid) is
    'The recording runner is alive: sets heartbeat_at of a running run. False once the run '
    'is finished (or was reaped). Editors of the run''s organisation, or the system.';
revoke execute on function public.run_heartbeat(uuid) from public, anon, authenticated, service_role;
grant execute on function public.run_heartbeat(uuid) to authenticated, service_role;

-- A database restart is no sign of a lost runner: heartbeats count from the server's
-- start at the earliest, so a run gets the full limit to beat again after an outage.
create function public.reap_stale_runs(p_stale_after_s double precision default 60)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_count integer;
    v_system boolean := private.caller_is_system();
begin
    if p_stale_after_s is null or p_stale_after_s <= 0 then
        raise exception using errcode = 'invalid_parameter_value',
            message = 'p_stale_after_s must be a positive number of seconds';
    end if;
    -- finish_times sets finished_at; the status triggers emit run_completed and analyse it
    update public.test_runs as t
       set status = 'interrupted',
           metadata = t.metadata || pg_catalog.jsonb_build_object(
               'interrupted_reason', 'runner lost',
               'last_heartbeat_at', private.utc_iso(coalesce(t.heartbeat_at, t.started_at)))
     where t.status = 'running'
       and greatest(coalesce(t.heartbeat_at, t.started_at),
                      pg_catalog.pg_postmaster_start_time())
           < pg_catalog.now() - pg_catalog.make_interval(secs => p_stale_after_s)
       and (v_system or t.organization_id in (select private.user_org_ids('editor')));
    get diagnostics v_count = row_count;
    return v_count;
end;
$$;
comment on function public.reap_stale_runs(double precision) is
    'Mark running runs whose heartbeat is older than p_stale_after_s seconds interrupted '
    '(metadata.interrupted_reason = runner lost); returns how many. The system reaps every '
    'run, a user those of the organisations they edit. For pg_cron: '
    'select cron.schedule(''runner-reap'', ''* * * * *'', ''select public.reap_stale_runs(60)'').';
revoke execute on function public.reap_stale_runs(double precision)
    from public, anon, authenticated, service_role;
grant execute on function public.reap_stale_runs(double precision) to authenticated, service_role;

-- ------------------------------------------------------------------- retention
-- Versions neither current nor used by a run, then cases in no version and without a
-- result (retention's runs and results phases run first).
create function private.retention_unused_versions(
    p_as_of timestamptz, p_project_ids uuid[] default null, p_ids uuid[] default null
) returns table (id uuid)
language sql
stable
set search_path = ''
as $$
    select v.id
      from public.suite_versions as v
     where v.created_at < p_as_of
       and not exists (select 1 from public.test_suites as s where s.current_version_id = v.id)
       and not exists (select 1 from public.test_runs as r where r.suite_version_id = v.id)
       and (p_project_ids is null or v.project_id = any (p_project_ids))
       and (p_ids is null or v.id = any (p_ids))
$$;
comment on function private.retention_unused_versions(timestamptz, uuid[], uuid[]) is
    'Retention phase versions: suite versions that are not current and no run uses.';

create function private.retention_unused_cases(
    p_as_of timestamptz, p_project_ids uuid[] default null, p_ids uuid[] default null
) returns table (id uuid)
language sql
stable
set search_path = ''
as $$
    select c.id
      from public.test_cases as c
     where c.updated_at < p_as_of
       and not exists (select 1 from public.suite_versions as v
                        where v.suite_id = c.suite_id and c.id = any (v.case_ids))
       and not exists (select 1 from public.test_results as r
                        where r.project_id = c.project_id and r.test_case_id = c.id)
       and (p_project_ids is null or c.project_id = any (p_project_ids))
       and (p_ids is null or c.id = any (p_ids))
$$;
comment on function private.retention_unused_cases(timestamptz, uuid[], uuid[]) is
    'Retention phase cases: test cases in no suite version and without results.';

revoke execute on function private.retention_unused_versions(timestamptz, uuid[], uuid[]),
    private.retention_unused_cases(timestamptz, uuid[], uuid[]) from public;
grant execute on function private.retention_unused_versions(timestamptz, uuid[], uuid[]),
    private.retention_unused_cases(timestamptz, uuid[], uuid[]) to service_role;

create or replace procedure public.retention_purge(p_chunk_size integer default 5000)
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
    foreach v_phase in array array['contexts', 'results', 'runs', 'metrics_daily', 'metrics_monthly',
                                   'versions', 'cases'] loop
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
            elsif v_phase = 'metrics_monthly' then
                select pg_catalog.array_agg(e.id) into v_ids
                  from (select x.id from private.retention_expired_monthly_metrics(v_as_of) as x
                         limit p_chunk_size) as e;
                delete from public.performance_metrics_monthly where id = any (v_ids);
            elsif v_phase = 'versions' then
                select pg_catalog.array_agg(e.id) into v_ids
                  from (select x.id from private.retention_unused_versions(v_as_of) as x
                         limit p_chunk_size) as e;
                delete from public.suite_versions where id = any (v_ids);
            else
                select pg_catalog.array_agg(e.id) into v_ids
                  from (select x.id from private.retention_unused_cases(v_as_of) as x
                         limit p_chunk_size) as e;
                delete from public.test_cases where id = any (v_ids);
            end if;
            exit when v_ids is null;
            v_total := v_total + pg_catalog.cardinality(v_ids);
            commit;
        end loop;
        raise notice 'retention_purge: % %', v_phase, v_total;
    end loop;
end;
$$;
