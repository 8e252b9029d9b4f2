-- One function starts a run: sync the suite (organisation, project, suite, cases,
-- dependencies, environments, plain variables) and create the run and its context,
-- in the caller's transaction and with the caller's rights (security invoker, so
-- RLS decides exactly as it did for the separate statements this replaces).
--
-- Both stores call it: PostgresStore on a direct connection, SupabaseStore through
-- PostgREST RPC, so a run recorded through a Supabase URL and key alone goes through
-- the same rules as one recorded on the direct path.
--
-- p_request (built by runner.store.sync.run_request):
--   organization, organization_slug, project, project_slug   names and slugs
--   suite        {name, slug, description, source_path, settings, content_hash}
--   cases        [{stable_id, name, description, tags, enabled, sort_order,
--                  definition, content_hash}]
--   edges        [{dep, test, type}]
--   environments [{name, base_url, variables: {name: text}}]
--   environment  the environment the run uses (or null)
--   run          {trigger, total_tests, metadata}
--   order        [test keys in planned order]
-- Unchanged rows (same content hash) are not written: re-syncing an unchanged suite
-- writes nothing but the run. The answer: {run_id, project_id, suite_id,
-- environment_id, case_ids: {stable id: uuid}, quarantined: [stable ids]}.

create function public.start_suite_run(p_request jsonb) returns jsonb
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
    v_project_id uuid;
    v_suite_id uuid;
    v_environment_id uuid;
    v_env jsonb;
    v_env_id uuid;
    v_run_id uuid;
    v_case_ids jsonb;
    v_metadata jsonb;
begin
    if v_org_slug is null or v_project_slug is null or v_suite is null
       or v_suite ->> 'slug' is null or v_suite ->> 'name' is null then
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

    insert into public.test_suites as s
           (project_id, name, slug, description, source_path, settings, content_hash)
    values (v_project_id, v_suite ->> 'name', v_suite ->> 'slug', v_suite ->> 'description',
            v_suite ->> 'source_path', coalesce(v_suite -> 'settings', '{}'::jsonb),
            v_suite ->> 'content_hash')
    on conflict (project_id, slug) do update
       set name = excluded.name,
           description = excluded.description,
           source_path = excluded.source_path,
           settings = excluded.settings,
           content_hash = excluded.content_hash
     where s.content_hash is distinct from excluded.content_hash;
    select s.id into v_suite_id
      from public.test_suites as s
     where s.project_id = v_project_id and s.slug = v_suite ->> 'slug';

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

    -- anti-joins, not "<> all(array)": that compares every row with every element
    delete from public.test_cases as tc
     where tc.suite_id = v_suite_id
       and not exists (
           select 1 from pg_catalog.jsonb_array_elements(v_cases) as c
            where c ->> 'stable_id' = tc.stable_id);

    insert into public.test_dependencies as td
           (suite_id, test_case_id, depends_on_test_case_id, dependency_type)
    select v_suite_id, t.id, d.id, e.type
      from pg_catalog.jsonb_to_recordset(v_edges) as e (test text, dep text, type text)
      join public.test_cases as t on t.suite_id = v_suite_id and t.stable_id = e.test
      join public.test_cases as d on d.suite_id = v_suite_id and d.stable_id = e.dep
     where not exists (
           select 1 from public.test_dependencies as x
            where x.test_case_id = t.id and x.depends_on_test_case_id = d.id
              and x.dependency_type = e.type)
    on conflict (test_case_id, depends_on_test_case_id) do update
       set dependency_type = excluded.dependency_type
     where td.dependency_type is distinct from excluded.dependency_type;

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
           (project_id, suite_id, suite_name, environment_id, environment_name, trigger,
            total_tests, metadata)
    values (v_project_id, v_suite_id, v_suite ->> 'name', v_environment_id, v_env_name,
            coalesce(v_run ->> 'trigger', 'cli'), coalesce((v_run ->> 'total_tests')::integer, 0),
            coalesce(v_run -> 'metadata', '{}'::jsonb))
    returning id, metadata into v_run_id, v_metadata;

    perform public.init_run_context(v_run_id, coalesce(p_request -> 'order', '[]'::jsonb));

    select pg_catalog.jsonb_object_agg(tc.stable_id, tc.id) into v_case_ids
      from public.test_cases as tc
     where tc.suite_id = v_suite_id;

    return pg_catalog.jsonb_build_object(
        'run_id', v_run_id,
        'project_id', v_project_id,
        'suite_id', v_suite_id,
        'environment_id', v_environment_id,
        'case_ids', coalesce(v_case_ids, '{}'::jsonb),
        -- the suite's quarantined tests, as noted on the run by its insert trigger
        'quarantined', coalesce(v_metadata -> 'quarantined_tests', '[]'::jsonb));
end;
$$;
comment on function public.start_suite_run(jsonb) is
    'Sync a suite and start a run of it (with its execution context) in one call; the caller''s rights apply. Used by both stores (direct and RPC).';

revoke execute on function public.start_suite_run(jsonb) from public, anon, authenticated, service_role;
grant execute on function public.start_suite_run(jsonb) to authenticated, service_role;
