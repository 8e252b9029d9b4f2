-- What a store can do besides recording a run, as SQL functions, so that the direct
-- Postgres path (PostgresStore) and the REST/RPC path (SupabaseStore) share one
-- implementation: stored environment secrets, personal credentials, quarantines,
-- stored suites and a run's analysis.
--
-- Every function runs as its caller (security invoker): row-level security decides
-- what a user sees and may change, exactly as for the tables themselves. Ciphertext
-- travels as base64 text (JSON has no bytes); plaintext never reaches the database.
-- Each returns jsonb (or a scalar), which both paths read the same way.

-- --------------------------------------------------------------- environment secrets
create function public.stored_environment_secrets(
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
      join public.organizations as o on o.id = p.organization_id
     where o.slug = p_organization and p.slug = p_project and e.name = p_environment;
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
comment on function public.stored_environment_secrets(text, text, text) is
    'Ciphertext (base64) and key id of each secret of an environment, by name; null when the '
    'environment is not stored or not visible. Reading needs admin or the system.';

create function public.set_environment_secret(
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
      join public.organizations as o on o.id = p.organization_id
     where o.slug = p_organization and p.slug = p_project and e.name = p_environment
    on conflict (environment_id, name) do update
       -- the arguments, not excluded.*: reading the ciphertext column needs a privilege
       -- no authenticated user has (0009), and admins may replace a secret
       set is_secret = true, value = null,
           encrypted_value = pg_catalog.decode(p_ciphertext, 'base64'), key_id = p_key_id
    returning id;
$$;
comment on function public.set_environment_secret(text, text, text, text, text, text) is
    'Store (or replace) an environment secret as ciphertext (base64); null when the '
    'environment is not stored or not visible.';

-- -------------------------------------------------------------- personal credentials
create function public.save_api_credential(
    p_name text,
    p_kind text,
    p_description text,
    p_ciphertext text,
    p_key_id text,
    p_metadata jsonb,
    p_expires_at timestamptz
) returns uuid
language sql
set search_path = ''
as $$
    insert into public.api_credentials
        (name, kind, description, encrypted_secret, key_id, metadata, expires_at)
    values (p_name, p_kind, p_description, pg_catalog.decode(p_ciphertext, 'base64'), p_key_id,
            coalesce(p_metadata, '{}'::jsonb), p_expires_at)
    on conflict (user_id, name) do update
       set kind = excluded.kind, description = excluded.description,
           encrypted_secret = excluded.encrypted_secret, key_id = excluded.key_id,
           metadata = excluded.metadata, expires_at = excluded.expires_at
    returning id;
$$;
comment on function public.save_api_credential(text, text, text, text, text, jsonb, timestamptz) is
    'Store (or replace) the caller''s credential by name; the secret as ciphertext (base64).';

create function public.use_api_credentials(p_names text[]) returns jsonb
language sql
set search_path = ''
as $$
    with used as (
        update public.api_credentials set last_used_at = pg_catalog.now()
         where user_id = (select auth.uid()) and name = any (p_names)
        returning name, kind, encrypted_secret, key_id, metadata
    )
    select coalesce(
        pg_catalog.jsonb_agg(
            pg_catalog.jsonb_build_object(
                'name', u.name,
                'kind', u.kind,
                'ciphertext', pg_catalog.encode(u.encrypted_secret, 'base64'),
                'key_id', u.key_id,
                'metadata', u.metadata
            )
            order by u.name
        ),
        '[]'::jsonb
    )
      from used as u;
$$;
comment on function public.use_api_credentials(text[]) is
    'The caller''s credentials of these names (ciphertext as base64), marked used now.';

create function public.delete_api_credential(p_name text) returns boolean
language sql
set search_path = ''
as $$
    with gone as (
        delete from public.api_credentials
         where user_id = (select auth.uid()) and name = p_name
        returning 1
    )
    select exists (select 1 from gone);
$$;
comment on function public.delete_api_credential(text) is
    'Remove the caller''s credential by name; whether there was one.';

-- ----------------------------------------------------------------------- quarantines
create function public.find_test_cases(p_suite text, p_test text, p_project text)
returns jsonb
language sql
stable
set search_path = ''
as $$
    select coalesce(
        pg_catalog.jsonb_agg(
            pg_catalog.jsonb_build_object('id', c.id, 'project', p.slug) order by p.slug
        ),
        '[]'::jsonb
    )
      from public.test_cases as c
      join public.test_suites as s on s.id = c.suite_id
      join public.projects as p on p.id = c.project_id
     where (s.name = p_suite or s.slug = p_suite)
       and c.stable_id = p_test
       and (p_project is null or p.slug = p_project);
$$;
comment on function public.find_test_cases(text, text, text) is
    'Stored test cases with this stable id in a suite (name or slug), optionally of one '
    'project: [{id, project}]. More than one means the name is ambiguous.';

create function public.quarantine_test_case(p_test_case_id uuid, p_reason text)
returns boolean
language sql
set search_path = ''
as $$
    insert into public.test_quarantines (test_case_id, reason)
    values (p_test_case_id, p_reason)
    on conflict (test_case_id) do update set reason = excluded.reason
    returning (xmax = 0);
$$;
comment on function public.quarantine_test_case(uuid, text) is
    'Quarantine a test case, or change its reason; true when newly quarantined.';

create function public.lift_quarantine(p_test_case_id uuid) returns boolean
language sql
set search_path = ''
as $$
    with gone as (
        delete from public.test_quarantines where test_case_id = p_test_case_id returning 1
    )
    select exists (select 1 from gone);
$$;
comment on function public.lift_quarantine(uuid) is
    'Lift a test case''s quarantine; false when it was not quarantined.';

create function public.list_quarantines(p_suite text, p_project text) returns jsonb
language sql
stable
set search_path = ''
as $$
    select coalesce(
        pg_catalog.jsonb_agg(
            pg_catalog.jsonb_build_object(
                'project', p.slug,
                'suite', s.name,
                'test', c.stable_id,
                'reason', q.reason,
                'quarantined_at', q.quarantined_at,
                'quarantined_by', u.email
            )
            order by p.slug, s.name, c.stable_id
        ),
        '[]'::jsonb
    )
      from public.test_quarantines as q
      join public.test_cases as c on c.id = q.test_case_id
      join public.test_suites as s on s.id = c.suite_id
      join public.projects as p on p.id = q.project_id
      left join public.users as u on u.id = q.quarantined_by
     where (p_suite is null or s.name = p_suite or s.slug = p_suite)
       and (p_project is null or p.slug = p_project);
$$;
comment on function public.list_quarantines(text, text) is
    'Quarantined test cases the caller can see, optionally of one suite and project.';

-- --------------------------------------------------------------------- stored suites
create function public.stored_suite(p_name text, p_project text) returns jsonb
language sql
stable
set search_path = ''
as $$
    with found as (
        select s.id, s.name, s.settings, s.source_path, p.slug as project,
               o.slug as organization, s.updated_at
          from public.test_suites as s
          join public.projects as p on p.id = s.project_id
          join public.organizations as o on o.id = s.organization_id
         where (s.name = p_name or s.slug = p_name)
           and (p_project is null or p.slug = p_project)
    ), newest as (
        select * from found order by updated_at desc limit 1
    )
    select pg_catalog.jsonb_build_object(
        'matches', (
            select coalesce(
                pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object('project', f.project, 'organization',
                                                  f.organization)
                    order by f.updated_at desc
                ),
                '[]'::jsonb
            )
              from found as f
        ),
        'suite', (
            select pg_catalog.jsonb_build_object(
                'name', n.name, 'settings', n.settings, 'source_path', n.source_path
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
        )
    );
$$;
comment on function public.stored_suite(text, text) is
    'A stored suite by name or slug: every match''s project and organisation, and the newest '
    'match''s settings and test definitions (the caller refuses an ambiguous name).';

-- ------------------------------------------------------------------ a run's analysis
create function public.run_analysis(p_run_id uuid) returns jsonb
language sql
stable
set search_path = ''
as $$
    select pg_catalog.jsonb_build_object(
        'regressions', (
            select coalesce(
                pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object(
                        'test_case_id', g.test_case_id, 'test', c.stable_id, 'name', c.name,
                        'environment_id', g.environment_id, 'metric_date', g.metric_date,
                        'p95_ms', g.p95_ms, 'baseline_p95_ms', g.baseline_p95_ms,
                        'baseline_days', g.baseline_days, 'baseline_runs', g.baseline_runs,
                        'ratio', g.ratio, 'threshold', g.threshold,
                        'explanation', g.explanation
                    )
                    order by c.stable_id, g.metric_date
                ),
                '[]'::jsonb
            )
              from public.performance_regressions as g
              join public.test_cases as c on c.id = g.test_case_id
             where g.run_id = p_run_id
        ),
        'flaky', (
            select coalesce(
                pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object(
                        'id', d.id, 'test_case_id', d.test_case_id, 'test', c.stable_id,
                        'name', c.name, 'environment_id', d.environment_id,
                        'window_days', d.window_days, 'runs', d.runs, 'failures', d.failures,
                        'failure_rate', d.failure_rate, 'flips', d.flips,
                        'flip_rate', d.flip_rate, 'recovered_on_retry', d.recovered_on_retry,
                        'recovered_rate', d.recovered_rate, 'reasons', d.reasons,
                        'detected_at', d.detected_at
                    )
                    order by c.stable_id
                ),
                '[]'::jsonb
            )
              from public.flaky_test_detections as d
              join public.test_cases as c on c.id = d.test_case_id
             where d.run_id = p_run_id
        ),
        'quarantined_failures', (
            -- failed or errored results of tests quarantined when the run started
            -- (test_runs.metadata.quarantined_tests), with the reason if it still holds
            select coalesce(
                pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object(
                        'test_key', t.test_key,
                        'test', pg_catalog.split_part(t.test_key, '[', 1),
                        'status', t.status, 'error_category', t.error_category,
                        'message', t.message, 'reason', q.reason
                    )
                    order by t.test_key
                ),
                '[]'::jsonb
            )
              from public.test_runs as r
              join public.test_results as t on t.run_id = r.id
              left join public.test_quarantines as q on q.test_case_id = t.test_case_id
             where r.id = p_run_id
               and t.status in ('failed', 'error')
               and pg_catalog.jsonb_typeof(r.metadata -> 'quarantined_tests') = 'array'
               and r.metadata -> 'quarantined_tests' ? pg_catalog.split_part(t.test_key, '[', 1)
        )
    );
$$;
comment on function public.run_analysis(uuid) is
    'What the run''s finish found: regressions, newly flaky tests and quarantined failures '
    '(what the caller may see of them).';

-- ------------------------------------------------------------------------ grants
-- Supabase grants EXECUTE on new public functions to anon by default: take it back.
revoke execute on function
    public.stored_environment_secrets(text, text, text),
    public.set_environment_secret(text, text, text, text, text, text),
    public.save_api_credential(text, text, text, text, text, jsonb, timestamptz),
    public.use_api_credentials(text[]),
    public.delete_api_credential(text),
    public.find_test_cases(text, text, text),
    public.quarantine_test_case(uuid, text),
    public.lift_quarantine(uuid),
    public.list_quarantines(text, text),
    public.stored_suite(text, text),
    public.run_analysis(uuid)
    from public, anon, authenticated, service_role;
grant execute on function
    public.stored_environment_secrets(text, text, text),
    public.set_environment_secret(text, text, text, text, text, text),
    public.save_api_credential(text, text, text, text, text, jsonb, timestamptz),
    public.use_api_credentials(text[]),
    public.delete_api_credential(text),
    public.find_test_cases(text, text, text),
    public.quarantine_test_case(uuid, text),
    public.lift_quarantine(uuid),
    public.list_quarantines(text, text),
    public.stored_suite(text, text),
    public.run_analysis(uuid)
    to authenticated, service_role;
