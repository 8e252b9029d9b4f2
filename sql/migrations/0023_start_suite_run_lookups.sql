-- start_suite_run (0020) with its dependency edges resolved by index lookups.
--
-- Measured on the bench database (docs/performance.md): a run of an unchanged
-- 1,001-test suite spent 0.56 s of its 0.6 s in start_suite_run on one statement,
-- the insert of the suite's dependency edges. It joined the edges to the suite's
-- test cases twice; with the planner estimating one test case per suite (statistics
-- of a table that grew since it was last analysed), that became a nested loop
-- comparing every edge with every test (2.25 million pairs), and it grows with the
-- square of the suite. The suite's stable id -> id map (which the function returns
-- anyway) is now built first, and each end of an edge is looked up in it, whatever
-- the estimates. Everything else is as in 0020.

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

    -- every test's id by stable id, once; the edges below and the caller use it
    select pg_catalog.jsonb_object_agg(tc.stable_id, tc.id) into v_case_ids
      from public.test_cases as tc
     where tc.suite_id = v_suite_id;
    v_case_ids := coalesce(v_case_ids, '{}'::jsonb);

    insert into public.test_dependencies as td
           (suite_id, test_case_id, depends_on_test_case_id, dependency_type)
    select v_suite_id, e.test_id, e.dep_id, e.type
      from (
        -- both ends resolved in that map (0023): as joins with test_cases, with the
        -- suite's tests estimated at one row, this was a nested loop comparing every
        -- edge with every test (0.56 s for 1,001 tests, quadratic beyond)
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

    return pg_catalog.jsonb_build_object(
        'run_id', v_run_id,
        'project_id', v_project_id,
        'suite_id', v_suite_id,
        'environment_id', v_environment_id,
        'case_ids', v_case_ids,
        -- the suite's quarantined tests, as noted on the run by its insert trigger
        'quarantined', coalesce(v_metadata -> 'quarantined_tests', '[]'::jsonb));
end;
$$;

