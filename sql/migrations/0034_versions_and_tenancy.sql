-- 0034: start_suite_run with both suite versions (0032) and tenancy by identity (0033).
--
-- 0032 and 0033 were written side by side, each from 0023's start_suite_run: applied in
-- order, 0033's copy would drop the suite versions of 0032. This is 0032's function with
-- 0033's organisation rule: an id, or a slug the caller may use (private.run_organization),
-- created only when no organisation has that slug.

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
