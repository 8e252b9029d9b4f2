-- Tenancy by identity, not by name (issue 15, item 4), and the `request` error category
-- (item 5).
--
-- Before: service-role runs found their organisation by slug, created it when missing,
-- and recorded into whatever organisation had that slug. A user who signed up could
-- create `ci-prod` (or, on a fresh database, `local`) first and then read every run the
-- runner recorded there; a 409 on a taken slug also told anyone that it existed.
--
-- Now (docs/security.md, "Tenancy"):
--   * organizations.runner_owned marks the organisations the system created (the service
--     role, a superuser, or this migration). Users cannot set it: the guard below forces
--     it on every insert, and authenticated has no UPDATE grant on the column.
--   * The service role addresses an organisation by id (RUNNER_ORGANIZATION_ID, any
--     organisation), or by slug only when that organisation is runner-owned. A slug held
--     by a user-created organisation is refused: the owner gives the runner its id.
--   * private.reserved_slugs holds `local` and every slug a runner-owned organisation
--     has had; signed-up users cannot claim them, nor a slug another organisation uses,
--     nor one shaped like a uuid (an id). All of these, and a malformed slug, raise the
--     same error (23514, HTTP 400 over REST): no "409 Conflict" existence oracle.
--   * The first-run default organisation `local` is created here, owned by no user.
--   * The stored-secret functions resolve their organisation the same way.
--   * error_category gains `request`: the rendered request cannot be sent as is (a CR, LF
--     or NUL in a header), which used to surface as `internal`.

-- ------------------------------------------------------------------- runner-owned
alter table public.organizations add column runner_owned boolean not null default false;
comment on column public.organizations.runner_owned is
    'Created by the system (service role or migration): service-role runs may address it by '
    'slug. Set by a trigger on insert, never by users (docs/security.md, Tenancy).';
-- Organisations the system created before this migration have no creator; an
-- organisation whose creating user was deleted also has none, and is the runner's
-- from now on (its members keep their roles).
update public.organizations set runner_owned = true where created_by is null;

-- ----------------------------------------------------------------- reserved slugs
create table private.reserved_slugs (
    slug text primary key,
    reason text not null,
    reserved_at timestamptz not null default now()
);
alter table private.reserved_slugs enable row level security;
revoke all on private.reserved_slugs from public, anon, authenticated, service_role;
comment on table private.reserved_slugs is
    'Organisation slugs signed-up users cannot claim: `local` and every slug the runner has '
    'used (kept when that organisation is renamed or deleted). Read only by the security '
    'definer guard; no role has a grant, and no policy: RLS denies everyone else.';
insert into private.reserved_slugs (slug, reason) values ('local', 'the default organisation');
insert into private.reserved_slugs (slug, reason)
select o.slug, 'used by the runner' from public.organizations as o where o.runner_owned
on conflict (slug) do nothing;

-- ----------------------------------------------------------------------- the guard
create function private.guard_organization_slug() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if private.caller_is_system() then
        if tg_op = 'INSERT' then
            new.runner_owned := true;
        end if;
        return new;
    end if;
    if tg_op = 'INSERT' then
        new.runner_owned := false;
    elsif new.slug is not distinct from old.slug then
        return new;
    end if;
    -- one claim of a slug at a time, so two users cannot both pass the check
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtext('public.organizations.slug'), pg_catalog.hashtext(coalesce(new.slug, '')));
    if new.slug is null
       or new.slug !~ '^[a-z0-9][a-z0-9-]{0,62}$'
       or new.slug ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       or exists (select 1 from private.reserved_slugs as r where r.slug = new.slug)
       or exists (select 1 from public.organizations as o where o.slug = new.slug and o.id <> new.id)
    then
        -- one error for every reason: a taken slug must not read differently
        raise exception using errcode = 'check_violation',
            message = 'organization slug is invalid or not available',
            hint = 'Use 1 to 63 lowercase letters, digits and dashes, starting with a letter '
                   'or digit, that is not reserved or used.';
    end if;
    return new;
end;
$$;
comment on function private.guard_organization_slug() is
    'BEFORE INSERT/UPDATE OF slug on organizations: the system''s organisations are '
    'runner-owned; users may not claim a reserved, used, uuid-shaped or malformed slug '
    '(one error for all).';
create trigger guard_organization_slug before insert or update of slug on public.organizations
    for each row execute function private.guard_organization_slug();

create function private.reserve_runner_slug() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into private.reserved_slugs (slug, reason)
    values (new.slug, 'used by the runner')
    on conflict (slug) do nothing;
    return null;
end;
$$;
comment on function private.reserve_runner_slug() is
    'AFTER INSERT/UPDATE OF slug on a runner-owned organisation: its slug stays reserved.';
create trigger reserve_runner_slug after insert or update of slug on public.organizations
    for each row when (new.runner_owned) execute function private.reserve_runner_slug();
-- trigger functions: nobody calls them directly
revoke execute on function private.guard_organization_slug(), private.reserve_runner_slug()
    from public;

-- ------------------------------------------------------- the default organisation
insert into public.organizations (name, slug) values ('local', 'local')
on conflict (slug) do nothing;

-- ------------------------------------------------------ resolving an organisation
create function private.run_organization(p_ref text) returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_id uuid;
    v_owned boolean;
    v_system boolean := private.caller_is_system();
begin
    if p_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        select o.id into v_id from public.organizations as o where o.id = p_ref::uuid;
        if v_id is null or not (v_system or private.is_org_member(v_id, 'guest')) then
            raise exception using errcode = 'insufficient_privilege',
                message = pg_catalog.format('no organisation with id %s is visible to the caller', p_ref);
        end if;
        return v_id;
    end if;
    select o.id, o.runner_owned into v_id, v_owned
      from public.organizations as o
     where o.slug = p_ref;
    if v_id is null then
        return null;
    end if;
    if v_system and not v_owned then
        raise exception using errcode = 'insufficient_privilege',
            message = pg_catalog.format(
                'organisation %s was created by a signed-up user: the service role records '
                'into it only by id (RUNNER_ORGANIZATION_ID)', p_ref),
            hint = 'Set RUNNER_ORGANIZATION_ID to the id of the organisation the runs belong '
                   'to (its owner can read it), or use a slug of the runner''s own.';
    end if;
    if not v_system and not private.is_org_member(v_id, 'guest') then
        return null;  -- not the caller's: as if absent (creating it is then refused)
    end if;
    return v_id;
end;
$$;
comment on function private.run_organization(text) is
    'The organisation a run or stored secret addresses: a uuid is an id (the caller must see '
    'it); a slug resolves for the system only when runner-owned (else refused), for a user '
    'only when a member; null when there is none (the caller may create it).';
revoke all on function private.run_organization(text) from public;
grant execute on function private.run_organization(text) to authenticated, service_role;

-- -------------------------------------------------------------- start_suite_run
-- 0032's function (suite versions), except that the organisation is resolved by
-- private.run_organization and the project is then looked up by that organisation's id.
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
    v_org_id uuid;
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

    -- the organisation by identity (0033): an id, or a slug the caller may use; created
    -- only when no organisation has that slug (by the system: runner-owned)
    v_org_id := private.run_organization(v_org_slug);
    if v_org_id is null then
        insert into public.organizations (name, slug)
        values (coalesce(p_request ->> 'organization', v_org_slug), v_org_slug)
        on conflict (slug) do nothing
        returning id into v_org_id;
        if v_org_id is null then
            -- created meanwhile by a concurrent run
            v_org_id := private.run_organization(v_org_slug);
        end if;
        if v_org_id is null then
            raise exception using errcode = 'insufficient_privilege',
                message = pg_catalog.format('organisation %s is not visible to the caller', v_org_slug);
        end if;
    end if;

    insert into public.projects (organization_id, name, slug)
    values (v_org_id, coalesce(p_request ->> 'project', v_project_slug), v_project_slug)
    on conflict (organization_id, slug) do nothing;

    select p.id into v_project_id
      from public.projects as p
     where p.organization_id = v_org_id and p.slug = v_project_slug;
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

-- ------------------------------------------------------------- stored secrets
-- As in 0024, except that the organisation is resolved by private.run_organization.
create or replace function public.stored_environment_secrets(
    p_organization text, p_project text, p_environment text
) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    v_environment_id uuid;
begin
    select e.id into v_environment_id
      from public.environments as e
      join public.projects as p on p.id = e.project_id
     where p.organization_id = private.run_organization(p_organization)
       and p.slug = p_project and e.name = p_environment;
    if v_environment_id is null then
        return null;
    end if;
    return (
        select coalesce(
            pg_catalog.jsonb_object_agg(
                s.name,
                pg_catalog.jsonb_build_object(
                    'ciphertext', pg_catalog.encode(s.encrypted_value, 'base64'),
                    'key_id', s.key_id
                )
            ),
            '{}'::jsonb
        )
          from public.environment_secrets(v_environment_id) as s
    );
end;
$$;

create or replace function public.set_environment_secret(
    p_organization text,
    p_project text,
    p_environment text,
    p_name text,
    p_ciphertext text,
    p_key_id text
) returns uuid
language sql
set search_path = ''
as $$
    insert into public.environment_variables
        (project_id, environment_id, name, is_secret, value, encrypted_value, key_id)
    select e.project_id, e.id, p_name, true, null, pg_catalog.decode(p_ciphertext, 'base64'),
           p_key_id
      from public.environments as e
      join public.projects as p on p.id = e.project_id
     where p.organization_id = private.run_organization(p_organization)
       and p.slug = p_project and e.name = p_environment
    on conflict (environment_id, name) do update
       -- the arguments, not excluded.*: reading the ciphertext column needs a privilege
       -- no authenticated user has (0009), and admins may replace a secret
       set is_secret = true, value = null,
           encrypted_value = pg_catalog.decode(p_ciphertext, 'base64'), key_id = p_key_id
    returning id;
$$;

-- ------------------------------------------------------------ error categories
-- `request`: the rendered request cannot be sent as is (a CR, LF or NUL in a header).
-- The checks are added NOT VALID and then validated, as in 0030.
alter table public.test_results drop constraint test_results_error_category_check;
alter table public.test_results add constraint test_results_error_category_check
    check (error_category in (
        'assertion', 'timeout', 'connection', 'http_5xx', 'template',
        'capture', 'blocked', 'interrupted', 'bailed', 'internal', 'response_too_large', 'request'
    )) not valid;
alter table public.test_results validate constraint test_results_error_category_check;
comment on column public.test_results.error_category is
    'Why it did not pass: assertion, timeout, connection, http_5xx, template, capture, blocked, interrupted, bailed, internal, response_too_large, request.';

alter table public.test_result_details drop constraint test_result_details_error_category_check;
alter table public.test_result_details add constraint test_result_details_error_category_check
    check (error_category in (
        'assertion', 'timeout', 'connection', 'http_5xx', 'template',
        'capture', 'blocked', 'interrupted', 'bailed', 'internal', 'response_too_large', 'request'
    )) not valid;
alter table public.test_result_details validate constraint test_result_details_error_category_check;

alter table public.failure_analysis drop constraint failure_analysis_error_category_check;
alter table public.failure_analysis add constraint failure_analysis_error_category_check
    check (error_category in (
        'assertion', 'timeout', 'connection', 'http_5xx', 'template',
        'capture', 'blocked', 'interrupted', 'bailed', 'internal', 'response_too_large', 'request'
    )) not valid;
alter table public.failure_analysis validate constraint failure_analysis_error_category_check;
