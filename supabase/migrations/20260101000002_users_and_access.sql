-- Users and access: profiles, organisations, membership, personal API credentials,
-- and the security-definer membership helpers every policy goes through.
--
-- Grants and policies for all tables are in 0009_security.sql; RLS is enabled here,
-- as each table is created, so no table ever exists without it.

-- ------------------------------------------------------------------------ users
create table public.users (
    id uuid primary key references auth.users (id) on delete cascade,
    email text,
    display_name text check (display_name is null or char_length(display_name) between 1 and 200),
    avatar_url text check (avatar_url is null or avatar_url ~ '^https?://'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
alter table public.users enable row level security;
comment on table public.users is
    'Public profile of an auth.users account, created by a trigger when the account is.';
comment on column public.users.id is 'Same id as auth.users; deleting the account deletes the profile.';
comment on column public.users.email is 'Copy of auth.users.email, kept in step by a trigger.';
comment on column public.users.display_name is 'Name shown to teammates.';
comment on column public.users.avatar_url is 'Picture shown to teammates (http/https URL).';
comment on column public.users.created_at is 'When the profile was created.';
comment on column public.users.updated_at is 'When the profile last changed (trigger-maintained).';

create trigger set_updated_at before update on public.users
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

-- Profiles follow auth.users. Security definer: the auth server inserts as its own
-- role, which has no rights on public.users.
create function private.handle_new_auth_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into public.users (id, email, display_name)
    values (
        new.id,
        new.email,
        coalesce(
            nullif(new.raw_user_meta_data ->> 'display_name', ''),
            nullif(new.raw_user_meta_data ->> 'full_name', ''),
            nullif(new.raw_user_meta_data ->> 'name', ''),
            nullif(pg_catalog.split_part(new.email, '@', 1), '')
        )
    )
    on conflict (id) do nothing;
    return null;
end;
$$;
comment on function private.handle_new_auth_user() is
    'AFTER INSERT on auth.users: create the public.users profile.';

create function private.handle_auth_user_email() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    update public.users set email = new.email where id = new.id;
    return null;
end;
$$;
comment on function private.handle_auth_user_email() is
    'AFTER UPDATE OF email on auth.users: keep public.users.email in step.';

create trigger on_auth_user_created after insert on auth.users
    for each row execute function private.handle_new_auth_user();
create trigger on_auth_user_email_changed after update of email on auth.users
    for each row when (old.email is distinct from new.email)
    execute function private.handle_auth_user_email();

-- ---------------------------------------------------------------- organizations
create table public.organizations (
    id uuid primary key default gen_random_uuid(),
    name text not null check (char_length(btrim(name)) between 1 and 200),
    slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    created_by uuid default auth.uid() references public.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
alter table public.organizations enable row level security;
comment on table public.organizations is
    'A tenant: every project, run and result belongs to exactly one organisation.';
comment on column public.organizations.id is 'Primary key.';
comment on column public.organizations.name is 'Display name.';
comment on column public.organizations.slug is 'URL-safe unique handle (lowercase letters, digits, dashes).';
comment on column public.organizations.created_by is
    'User who created it; becomes its first owner. Null once that account is deleted.';
comment on column public.organizations.created_at is 'When the organisation was created.';
comment on column public.organizations.updated_at is 'When it last changed (trigger-maintained).';
create index organizations_created_by_idx on public.organizations (created_by);

create trigger set_updated_at before update on public.organizations
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

-- ----------------------------------------------------------- organization_members
create table public.organization_members (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    user_id uuid not null references public.users (id) on delete cascade,
    role text not null default 'member'
        check (role in ('owner', 'admin', 'editor', 'member', 'guest')),
    invited_by uuid default auth.uid() references public.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint organization_members_organization_id_user_id_key unique (organization_id, user_id)
);
alter table public.organization_members enable row level security;
comment on table public.organization_members is
    'Who belongs to which organisation, and with which role; the source of every access decision.';
comment on column public.organization_members.id is 'Primary key.';
comment on column public.organization_members.organization_id is 'The organisation.';
comment on column public.organization_members.user_id is 'The member.';
comment on column public.organization_members.role is
    'owner > admin > editor > member > guest: owners and admins manage members and environments, '
    'editors change configuration and start runs, members read, guests read runs and results only.';
comment on column public.organization_members.invited_by is 'Who added the member (null if unknown or deleted).';
comment on column public.organization_members.created_at is 'When the membership was created.';
comment on column public.organization_members.updated_at is 'When it last changed (trigger-maintained).';
-- (organization_id, user_id) is indexed by the unique key; policies look up by user
create index organization_members_user_id_idx on public.organization_members (user_id, organization_id, role);
create index organization_members_invited_by_idx on public.organization_members (invited_by);

create trigger set_updated_at before update on public.organization_members
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

-- The creator of an organisation becomes its owner.
create function private.add_creator_as_owner() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if new.created_by is not null then
        insert into public.organization_members (organization_id, user_id, role, invited_by)
        values (new.id, new.created_by, 'owner', new.created_by)
        on conflict (organization_id, user_id) do update set role = 'owner';
    end if;
    return null;
end;
$$;
comment on function private.add_creator_as_owner() is
    'AFTER INSERT on organizations: the creator becomes its first owner.';
create trigger add_creator_as_owner after insert on public.organizations
    for each row execute function private.add_creator_as_owner();

-- An organisation keeps at least one owner while it and the owner's account exist.
-- The organisation row is locked so two owners demoting each other concurrently
-- cannot both succeed.
create function private.keep_one_owner() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if old.role <> 'owner' or (tg_op = 'UPDATE' and new.role = 'owner') then
        return coalesce(new, old);
    end if;
    perform 1 from public.organizations where id = old.organization_id for update;
    if not found then
        return coalesce(new, old);  -- the organisation itself is being deleted
    end if;
    if tg_op = 'DELETE' and not exists (select 1 from public.users where id = old.user_id) then
        return old;  -- the owner's account is being deleted
    end if;
    if not exists (
        select 1 from public.organization_members
         where organization_id = old.organization_id and role = 'owner' and id <> old.id
    ) then
        raise exception using
            errcode = 'check_violation',
            message = 'an organization must keep at least one owner',
            hint = 'Make another member owner first.';
    end if;
    return coalesce(new, old);
end;
$$;
comment on function private.keep_one_owner() is
    'BEFORE UPDATE/DELETE on organization_members: refuse to remove or demote the last owner.';
create trigger keep_one_owner before update of role or delete on public.organization_members
    for each row execute function private.keep_one_owner();

-- Membership keys are fixed: change the role, or remove and re-add.
create function private.membership_keys_fixed() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.organization_id <> old.organization_id or new.user_id <> old.user_id then
        raise exception using errcode = 'check_violation',
            message = 'organization_members.organization_id and user_id cannot be changed';
    end if;
    return new;
end;
$$;
comment on function private.membership_keys_fixed() is
    'BEFORE UPDATE on organization_members: organisation and user are immutable.';
create trigger membership_keys_fixed before update of organization_id, user_id
    on public.organization_members
    for each row execute function private.membership_keys_fixed();

-- ------------------------------------------------------------------ helpers
-- Organisations where the current user (auth.uid()) has at least p_min_role.
-- Policies use it as `organization_id in (select private.user_org_ids('member'))`:
-- the sub-select runs once per statement (hashed), not once per row. Security
-- definer so that reading organization_members here is not itself subject to the
-- policies on organization_members (which would recurse).
create function private.user_org_ids(p_min_role text default 'guest') returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
    select m.organization_id
      from public.organization_members as m
     where m.user_id = (select auth.uid())
       and private.role_rank(m.role) >= private.role_rank(p_min_role)
$$;
comment on function private.user_org_ids(text) is
    'Organisations where auth.uid() has at least the given role (guest, member, editor, admin, owner).';

create function private.is_org_member(p_organization_id uuid, p_min_role text default 'guest')
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select exists (
        select 1
          from public.organization_members as m
         where m.organization_id = p_organization_id
           and m.user_id = (select auth.uid())
           and private.role_rank(m.role) >= private.role_rank(p_min_role)
    )
$$;
comment on function private.is_org_member(uuid, text) is
    'Whether auth.uid() has at least the given role in the organisation.';

-- Users who share at least one organisation with the current user (incl. itself).
create function private.user_peer_ids() returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
    select distinct other.user_id
      from public.organization_members as mine
      join public.organization_members as other on other.organization_id = mine.organization_id
     where mine.user_id = (select auth.uid())
$$;
comment on function private.user_peer_ids() is
    'Users sharing an organisation with auth.uid(): whose profiles it may see.';

-- ------------------------------------------------------------- api_credentials
create table public.api_credentials (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null default auth.uid() references public.users (id) on delete cascade,
    name text not null check (char_length(btrim(name)) between 1 and 200),
    kind text not null check (kind in ('api_key', 'bearer', 'basic', 'oauth2_client')),
    description text,
    encrypted_secret bytea not null check (octet_length(encrypted_secret) > 0),
    key_id text not null check (char_length(key_id) between 1 and 200),
    metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
    expires_at timestamptz,
    last_used_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint api_credentials_user_id_name_key unique (user_id, name)
);
alter table public.api_credentials enable row level security;
comment on table public.api_credentials is
    'Personal credentials for the APIs under test; their owner''s alone. Secrets only encrypted.';
comment on column public.api_credentials.id is 'Primary key.';
comment on column public.api_credentials.user_id is 'Owner; nobody else can see or use the credential.';
comment on column public.api_credentials.name is 'Name unique per owner, used to refer to it from suites.';
comment on column public.api_credentials.kind is 'api_key, bearer, basic or oauth2_client.';
comment on column public.api_credentials.description is 'Free text.';
comment on column public.api_credentials.encrypted_secret is
    'Ciphertext of the secret (AES-GCM by the client); plaintext never reaches the database.';
comment on column public.api_credentials.key_id is 'Which encryption key produced encrypted_secret (for rotation).';
comment on column public.api_credentials.metadata is
    'Non-secret settings (e.g. header name, token URL, username); never secret values.';
comment on column public.api_credentials.expires_at is 'When the credential stops being valid, if known.';
comment on column public.api_credentials.last_used_at is 'When a run last used it.';
comment on column public.api_credentials.created_at is 'When the credential was created.';
comment on column public.api_credentials.updated_at is 'When it last changed (trigger-maintained).';
-- (user_id, name) unique key also serves "credentials by user"

create trigger set_updated_at before update on public.api_credentials
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();

revoke execute on all functions in schema private from public;
grant execute on function private.user_org_ids(text) to authenticated, service_role;
grant execute on function private.is_org_member(uuid, text) to authenticated, service_role;
grant execute on function private.user_peer_ids() to authenticated, service_role;
