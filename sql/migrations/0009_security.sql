-- Grants and row-level security policies for every table (the matrix is written
-- down in docs/security.md, and a test keeps the two equal).
--
-- Principles:
--   * explicit grants (Supabase no longer grants new tables to the API roles, and
--     older projects grant everything by default: both cases start from nothing);
--   * anon gets nothing; service_role gets every table and bypasses RLS;
--   * policies are `to authenticated` and decide by organisation role through the
--     security-definer helpers in `private`, called as a sub-select
--     (`organization_id in (select private.user_org_ids('member'))`) so they run
--     once per statement instead of once per row;
--   * what the system writes (results, context, analytics, audit) has SELECT
--     policies only: users reach it through the functions of 0010.
--
-- Roles: guest < member < editor < admin < owner.

grant usage on schema public to anon, authenticated, service_role;

do $$
declare
    t text;
begin
    foreach t in array array[
        'users', 'organizations', 'organization_members', 'api_credentials',
        'projects', 'test_suites', 'test_cases', 'api_endpoints', 'test_dependencies',
        'test_request_configs', 'test_response_specs', 'test_data_fixtures', 'fixture_usage',
        'environments', 'environment_variables',
        'test_runs', 'test_execution_context', 'test_results', 'test_result_details',
        'performance_metrics', 'test_run_history', 'failure_analysis',
        'report_templates', 'user_preferences', 'saved_searches', 'audit_log'
    ] loop
        execute format('revoke all on public.%I from public, anon, authenticated, service_role', t);
        if t = 'audit_log' then
            -- append-only even for the service role (the trigger of 0008 also raises)
            execute format('grant select, insert on public.%I to service_role', t);
        else
            execute format('grant select, insert, update, delete on public.%I to service_role', t);
        end if;
    end loop;
end
$$;

-- ------------------------------------------------------------------ users
grant select on public.users to authenticated;
grant update (display_name, avatar_url) on public.users to authenticated;

create policy "users see themselves and their teammates" on public.users
    for select to authenticated
    using (id = (select auth.uid()) or id in (select private.user_peer_ids()));
create policy "users update their own profile" on public.users
    for update to authenticated
    using (id = (select auth.uid()))
    with check (id = (select auth.uid()));

-- ----------------------------------------------------------- organizations
grant select, insert, delete on public.organizations to authenticated;
grant update (name, slug) on public.organizations to authenticated;

-- The creator clause lets INSERT ... RETURNING see the new row: RETURNING is
-- checked against this policy before the owner membership exists.
create policy "members see their organizations" on public.organizations
    for select to authenticated
    using (id in (select private.user_org_ids('guest')) or created_by = (select auth.uid()));
create policy "any user creates an organization it owns" on public.organizations
    for insert to authenticated
    with check (created_by = (select auth.uid()));
create policy "admins update the organization" on public.organizations
    for update to authenticated
    using (id in (select private.user_org_ids('admin')))
    with check (id in (select private.user_org_ids('admin')));
create policy "owners delete the organization" on public.organizations
    for delete to authenticated
    using (id in (select private.user_org_ids('owner')));

-- ---------------------------------------------------- organization_members
grant select, insert, delete on public.organization_members to authenticated;
grant update (role) on public.organization_members to authenticated;

-- Admins manage editors, members and guests; owners manage everyone (including
-- other admins and owners). Everyone may leave (delete their own membership);
-- the last owner cannot (trigger keep_one_owner).
create policy "members see the membership; guests only their own" on public.organization_members
    for select to authenticated
    using (user_id = (select auth.uid()) or organization_id in (select private.user_org_ids('member')));
create policy "admins add members" on public.organization_members
    for insert to authenticated
    with check (
        organization_id in (select private.user_org_ids('admin'))
        and (role in ('editor', 'member', 'guest') or organization_id in (select private.user_org_ids('owner')))
    );
create policy "admins change roles" on public.organization_members
    for update to authenticated
    using (
        organization_id in (select private.user_org_ids('admin'))
        and (role in ('editor', 'member', 'guest') or organization_id in (select private.user_org_ids('owner')))
    )
    with check (
        organization_id in (select private.user_org_ids('admin'))
        and (role in ('editor', 'member', 'guest') or organization_id in (select private.user_org_ids('owner')))
    );
create policy "admins remove members; anyone leaves" on public.organization_members
    for delete to authenticated
    using (
        user_id = (select auth.uid())
        or (
            organization_id in (select private.user_org_ids('admin'))
            and (role in ('editor', 'member', 'guest') or organization_id in (select private.user_org_ids('owner')))
        )
    );

-- ------------------------------------------- personal: credentials, preferences
grant select, insert, update, delete on public.api_credentials to authenticated;
create policy "owner only" on public.api_credentials
    for all to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

grant select, insert, update, delete on public.user_preferences to authenticated;
create policy "owner only" on public.user_preferences
    for all to authenticated
    using (user_id = (select auth.uid()))
    with check (
        user_id = (select auth.uid())
        and (default_organization_id is null
             or default_organization_id in (select private.user_org_ids('guest')))
    );

grant select, insert, update, delete on public.saved_searches to authenticated;
create policy "owner only" on public.saved_searches
    for all to authenticated
    using (user_id = (select auth.uid()))
    with check (
        user_id = (select auth.uid())
        and (organization_id is null or organization_id in (select private.user_org_ids('guest')))
    );

-- ------------------------------------------------------------ configuration
-- Read by members (not guests), changed by editors, admins and owners. Deleting
-- a project removes its whole history (runs cascade), so that takes an admin.
do $$
declare
    t text;
begin
    foreach t in array array[
        'projects', 'test_suites', 'test_cases', 'api_endpoints', 'test_dependencies',
        'test_request_configs', 'test_response_specs', 'test_data_fixtures', 'fixture_usage',
        'report_templates'
    ] loop
        execute format('grant select, insert, update, delete on public.%I to authenticated', t);
        execute format(
            'create policy "members read" on public.%I for select to authenticated '
            'using (organization_id in (select private.user_org_ids(''member'')))', t);
        execute format(
            'create policy "editors create" on public.%I for insert to authenticated '
            'with check (organization_id in (select private.user_org_ids(''editor'')))', t);
        execute format(
            'create policy "editors update" on public.%I for update to authenticated '
            'using (organization_id in (select private.user_org_ids(''editor''))) '
            'with check (organization_id in (select private.user_org_ids(''editor'')))', t);
        execute format(
            'create policy "%s delete" on public.%I for delete to authenticated '
            'using (organization_id in (select private.user_org_ids(%L)))',
            case when t = 'projects' then 'admins' else 'editors' end, t,
            case when t = 'projects' then 'admin' else 'editor' end);
    end loop;
end
$$;

-- ------------------------------------------------------------- environments
-- Read by members (not guests), changed by admins and owners.
grant select, insert, update, delete on public.environments to authenticated;

-- The ciphertext of secret variables is not readable by any authenticated user
-- (column privileges); admins obtain it through public.environment_secrets().
grant select (id, organization_id, project_id, environment_id, name, is_secret, value, key_id,
              description, created_at, updated_at)
    on public.environment_variables to authenticated;
grant insert, update, delete on public.environment_variables to authenticated;

do $$
declare
    t text;
begin
    foreach t in array array['environments', 'environment_variables'] loop
        execute format(
            'create policy "members read" on public.%I for select to authenticated '
            'using (organization_id in (select private.user_org_ids(''member'')))', t);
        execute format(
            'create policy "admins create" on public.%I for insert to authenticated '
            'with check (organization_id in (select private.user_org_ids(''admin'')))', t);
        execute format(
            'create policy "admins update" on public.%I for update to authenticated '
            'using (organization_id in (select private.user_org_ids(''admin''))) '
            'with check (organization_id in (select private.user_org_ids(''admin'')))', t);
        execute format(
            'create policy "admins delete" on public.%I for delete to authenticated '
            'using (organization_id in (select private.user_org_ids(''admin'')))', t);
    end loop;
end
$$;

-- ---------------------------------------------------------------- test_runs
-- Everyone in the organisation (guests too) sees runs; editors start them, as
-- themselves and in the initial state; nobody updates or deletes them (finish_run
-- and the result triggers do, as the system).
grant select, insert on public.test_runs to authenticated;
create policy "members and guests read" on public.test_runs
    for select to authenticated
    using (organization_id in (select private.user_org_ids('guest')));
create policy "editors start runs" on public.test_runs
    for insert to authenticated
    with check (
        organization_id in (select private.user_org_ids('editor'))
        and created_by = (select auth.uid())
        and status = 'running'
        and completed_tests = 0
    );

-- ------------------------------------------------- system-written, read-only
grant select on public.test_results, public.test_result_details to authenticated;
create policy "members and guests read" on public.test_results
    for select to authenticated
    using (organization_id in (select private.user_org_ids('guest')));
create policy "members and guests read" on public.test_result_details
    for select to authenticated
    using (organization_id in (select private.user_org_ids('guest')));

do $$
declare
    t text;
begin
    foreach t in array array[
        'test_execution_context', 'performance_metrics', 'test_run_history', 'failure_analysis'
    ] loop
        execute format('grant select on public.%I to authenticated', t);
        execute format(
            'create policy "members read" on public.%I for select to authenticated '
            'using (organization_id in (select private.user_org_ids(''member'')))', t);
    end loop;
end
$$;

grant select on public.audit_log to authenticated;
create policy "admins read" on public.audit_log
    for select to authenticated
    using (organization_id in (select private.user_org_ids('admin')));
