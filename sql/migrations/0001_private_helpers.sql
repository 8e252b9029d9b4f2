-- Schema `private`: trigger functions and security-definer helpers.
--
-- `private` is not exposed over the API (PostgREST serves `public` only), so nothing
-- here is callable by clients as RPC. Policies call the membership helpers (added in
-- 0002, once their tables exist), which is why authenticated may USE the schema.
-- Every function pins `search_path = ''` and names objects schema-qualified, so a
-- caller's search_path can never redirect a security-definer function.

create schema if not exists private;
comment on schema private is
    'Internal helpers (triggers, security-definer checks); not exposed over the API.';
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

-- Supabase grants EXECUTE on new functions in some schemas by default; here every
-- function is granted explicitly, so start from nothing.
alter default privileges in schema private revoke execute on functions from public;

-- ------------------------------------------------------------------ updated_at
create function private.set_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := pg_catalog.now();
    return new;
end;
$$;
comment on function private.set_updated_at() is
    'BEFORE UPDATE trigger: updated_at is the time of the last change, whatever the client sent.';

-- ------------------------------------------------------------- scope inheritance
-- Rows below an organisation carry organization_id (and project_id) copied from
-- their parent, so that RLS can filter on a local, indexed column instead of
-- joining up the tree. The copy must be trustworthy: a client could otherwise
-- attach a row to a parent in an organisation it does not belong to while claiming
-- its own organisation. Hence this trigger (BEFORE INSERT OR UPDATE):
--   * on INSERT it reads the parent (as definer, whatever the caller may see) and
--     fills the scope columns; a given value that differs from the parent's raises;
--     the RLS WITH CHECK then judges the row by its true organisation;
--   * on UPDATE the parent link and the scope columns are immutable (moving a row
--     would leave its children's copies stale).
-- Arguments: parent table (in public), foreign-key column, scope columns to copy.
create function private.inherit_scope() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_parent_table text := tg_argv[0];
    v_fk text := tg_argv[1];
    v_new jsonb := pg_catalog.to_jsonb(new);
    v_old jsonb;
    v_parent jsonb;
    v_patch jsonb := '{}'::jsonb;
    v_col text;
    i integer;
begin
    if tg_op = 'UPDATE' then
        v_old := pg_catalog.to_jsonb(old);
        for i in 1 .. tg_nargs - 1 loop
            v_col := tg_argv[i];
            if v_new -> v_col is distinct from v_old -> v_col then
                raise exception using
                    errcode = 'check_violation',
                    message = pg_catalog.format('%s.%s cannot be changed', tg_table_name, v_col),
                    hint = 'Create a new row under the other parent instead.';
            end if;
        end loop;
        return new;
    end if;

    if v_new ->> v_fk is null then
        return new;  -- the NOT NULL constraint on the link reports it
    end if;
    execute pg_catalog.format('select pg_catalog.to_jsonb(p) from public.%I as p where p.id = $1',
                              v_parent_table)
        into v_parent
        using (v_new ->> v_fk)::uuid;
    if v_parent is null then
        raise exception using
            errcode = 'foreign_key_violation',
            message = pg_catalog.format('%s.%s: %s %s does not exist',
                                        tg_table_name, v_fk, v_parent_table, v_new ->> v_fk);
    end if;
    for i in 2 .. tg_nargs - 1 loop
        v_col := tg_argv[i];
        if v_new ->> v_col is not null and v_new -> v_col <> v_parent -> v_col then
            raise exception using
                errcode = 'check_violation',
                message = pg_catalog.format('%s.%s must equal the %s of its %s row',
                                            tg_table_name, v_col, v_col, v_parent_table);
        end if;
        v_patch := v_patch || pg_catalog.jsonb_build_object(v_col, v_parent -> v_col);
    end loop;
    return pg_catalog.jsonb_populate_record(new, v_patch);
end;
$$;
comment on function private.inherit_scope() is
    'BEFORE INSERT/UPDATE trigger: copy organization_id/project_id from the parent row '
    '(args: parent table, fk column, scope columns); scope and parent are immutable.';

-- ------------------------------------------------------------------------ roles
-- Organisation roles are ordered; "editor+" means rank >= rank('editor').
create function private.role_rank(p_role text) returns integer
language sql
immutable
set search_path = ''
as $$
    select case p_role
        when 'guest' then 1
        when 'member' then 2
        when 'editor' then 3
        when 'admin' then 4
        when 'owner' then 5
    end
$$;
comment on function private.role_rank(text) is
    'Rank of an organisation role: guest 1 < member 2 < editor 3 < admin 4 < owner 5.';

-- The role the caller acts as. Inside a security-definer function current_user is
-- the function owner, but the `role` setting (SET ROLE, or PostgREST's
-- set_config('role', ...)) still names the caller's role; 'none' means no role was
-- set and the session user acts.
create function private.caller_role() returns text
language sql
stable
set search_path = ''
as $$
    select case pg_catalog.current_setting('role')
        when 'none' then session_user::text
        else pg_catalog.current_setting('role')
    end
$$;
comment on function private.caller_role() is
    'The role the caller acts as (the role setting, else the session user), also inside security-definer functions.';

-- The system: service_role, or a superuser / BYPASSRLS login (migrations, the
-- runner connected as postgres). Decided by the role's attributes, never by JWT
-- claims, which a direct-SQL client could set to anything.
create function private.caller_is_system() returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(
        (select r.rolsuper or r.rolbypassrls
           from pg_catalog.pg_roles as r
          where r.rolname = private.caller_role()),
        false)
$$;
comment on function private.caller_is_system() is
    'True for service_role and superuser/BYPASSRLS callers: they may act on any run.';

revoke execute on all functions in schema private from public;
grant execute on function private.role_rank(text) to authenticated, service_role;
grant execute on function private.caller_role() to authenticated, service_role;
grant execute on function private.caller_is_system() to authenticated, service_role;
