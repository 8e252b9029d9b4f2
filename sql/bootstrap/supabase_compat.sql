-- Supabase compatibility bootstrap for plain PostgreSQL (the embedded default).
--
-- Applied by the migrator, in one transaction, only where schema `auth` is absent.
-- It creates what a Supabase project provides and our migrations rely on, defined
-- the way Supabase defines them (supabase/auth and supabase/realtime migrations), so
-- that sql/migrations runs unchanged here and on a real project:
--
--   roles      anon, authenticated, service_role, authenticator
--   auth       auth.users (+ identities, sessions, refresh_tokens for a local auth
--              server), auth.uid(), auth.role(), auth.email(), auth.jwt()
--   realtime   realtime.messages, realtime.topic(), realtime.send(),
--              realtime.broadcast_changes()
--   publication supabase_realtime
--
-- Deliberate differences from Supabase, all invisible to the migrations:
--   * realtime.messages is one plain table instead of daily range partitions
--     (partition upkeep is the Realtime server's job; nobody does it here);
--   * an AFTER INSERT trigger on realtime.messages calls
--     pg_notify('realtime_messages', <message id>) so a local Realtime server can
--     LISTEN instead of polling (Supabase's server reads the table through its own
--     replication machinery);
--   * no supabase_admin / supabase_auth_admin / supabase_realtime_admin owners:
--     objects belong to the migrating superuser.

-- --------------------------------------------------------------------------- roles
-- Roles are cluster-wide while this file runs once per database, so each creation
-- is guarded. Attributes follow supabase/postgres (roles.sql).
do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
    end if;
end
$$;

-- The API gateway logs in as authenticator and switches to one of these per request.
grant anon, authenticated, service_role to authenticator;

grant usage on schema public to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------- auth
create schema auth;
comment on schema auth is 'Supabase Auth (compatibility bootstrap): users and JWT claim helpers.';

create table auth.users (
    instance_id uuid,
    id uuid not null primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    confirmation_sent_at timestamptz,
    recovery_token varchar(255),
    recovery_sent_at timestamptz,
    email_change_token_new varchar(255),
    email_change varchar(255),
    email_change_sent_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    phone text unique default null,
    phone_confirmed_at timestamptz,
    phone_change text default '',
    phone_change_token varchar(255) default '',
    phone_change_sent_at timestamptz,
    confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
    email_change_token_current varchar(255) default '',
    email_change_confirm_status smallint default 0
        check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
    banned_until timestamptz,
    reauthentication_token varchar(255) default '',
    reauthentication_sent_at timestamptz,
    is_sso_user boolean not null default false,
    deleted_at timestamptz,
    is_anonymous boolean not null default false
);
comment on table auth.users is 'Auth: Stores user login data within a secure schema.';
comment on column auth.users.is_sso_user is 'Auth: Set this column to true when the account comes from SSO. These accounts can have duplicate emails.';
create index users_instance_id_idx on auth.users (instance_id);
create index users_is_anonymous_idx on auth.users (is_anonymous);
-- Supabase: one non-SSO account per email (case-insensitive)
create unique index users_email_partial_key on auth.users (email) where (is_sso_user = false);

create table auth.identities (
    provider_id text not null,
    user_id uuid not null references auth.users (id) on delete cascade,
    identity_data jsonb not null,
    provider text not null,
    last_sign_in_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    email text generated always as (lower(identity_data ->> 'email')) stored,
    id uuid not null default gen_random_uuid() primary key,
    constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
comment on table auth.identities is 'Auth: Stores identities associated to a user.';
create index identities_user_id_idx on auth.identities (user_id);

create table auth.sessions (
    id uuid not null primary key,
    user_id uuid not null references auth.users (id) on delete cascade,
    created_at timestamptz,
    updated_at timestamptz,
    factor_id uuid,
    aal text,
    not_after timestamptz,
    refreshed_at timestamp,
    user_agent text,
    ip inet,
    tag text
);
comment on table auth.sessions is 'Auth: Stores session data associated to a user.';
create index sessions_user_id_idx on auth.sessions (user_id);

create table auth.refresh_tokens (
    instance_id uuid,
    id bigserial primary key,
    token varchar(255) unique,
    user_id varchar(255),
    revoked boolean,
    created_at timestamptz,
    updated_at timestamptz,
    parent varchar(255),
    session_id uuid references auth.sessions (id) on delete cascade
);
comment on table auth.refresh_tokens is 'Auth: Store of tokens used to refresh JWT tokens once they expire.';
create index refresh_tokens_instance_id_user_id_idx on auth.refresh_tokens (instance_id, user_id);
create index refresh_tokens_parent_idx on auth.refresh_tokens (parent);
create index refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);

-- The claim helpers read what PostgREST (or our local server, or the runner's direct
-- path) sets per transaction: request.jwt.claims, and the legacy one-setting-per-claim
-- form request.jwt.claim.<name> that PostgREST < 9 used.
create function auth.uid() returns uuid
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create function auth.role() returns text
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create function auth.email() returns text
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;

create function auth.jwt() returns jsonb
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';
comment on function auth.email() is 'Deprecated. Use auth.jwt() -> ''email'' instead.';
comment on function auth.jwt() is 'The JWT claims of the current request (request.jwt.claims).';

-- As on Supabase: the API roles may use the schema (policies call auth.uid()) but
-- hold no privilege on the auth tables themselves.
grant usage on schema auth to anon, authenticated, service_role;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
    to anon, authenticated, service_role;

-- ------------------------------------------------------------------------ realtime
create schema realtime;
comment on schema realtime is 'Supabase Realtime (compatibility bootstrap): broadcast messages.';

create table realtime.messages (
    topic text not null,
    extension text not null,
    payload jsonb,
    event text,
    private boolean default false,
    updated_at timestamp without time zone not null default now(),
    inserted_at timestamp without time zone not null default now(),
    id uuid not null default gen_random_uuid(),
    -- Supabase's key includes the partition column; kept for the same shape
    constraint messages_pkey primary key (id, inserted_at)
);
comment on table realtime.messages is 'Realtime broadcast messages; read by the Realtime server, authorised by RLS on topic.';
create index messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
    where extension = 'broadcast' and private is true;

-- Channel authorisation: a client may join a private topic if a SELECT policy on
-- realtime.messages lets it see rows of that topic; the server sets realtime.topic.
alter table realtime.messages enable row level security;

create function realtime.topic() returns text
language sql stable
as $$
    select nullif(current_setting('realtime.topic', true), '')::text;
$$;

create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
declare
    generated_id uuid;
    final_payload jsonb;
begin
    begin
        generated_id := gen_random_uuid();
        -- the payload carries the message id, so clients can deduplicate
        if payload ? 'id' then
            final_payload := payload;
        else
            final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
        end if;
        -- policies on realtime.messages evaluated during the insert see the topic
        execute format('set local realtime.topic to %L', topic);
        insert into realtime.messages (id, payload, event, topic, private, extension)
        values (generated_id, final_payload, event, topic, private, 'broadcast');
    exception
        -- a broadcast must never break the transaction that sends it
        when others then
            raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
    end;
end;
$$;

create function realtime.broadcast_changes(
    topic_name text,
    event_name text,
    operation text,
    table_name text,
    table_schema text,
    new record,
    old record,
    level text default 'ROW'
)
returns void
language plpgsql
as $$
declare
    row_data jsonb := '{}'::jsonb;
begin
    if level = 'STATEMENT' then
        raise exception 'function can only be triggered for each row, not for each statement';
    end if;
    if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
        row_data := jsonb_build_object(
            'old_record', old,
            'record', new,
            'operation', operation,
            'table', table_name,
            'schema', table_schema
        );
        perform realtime.send(row_data, event_name, topic_name);
    else
        raise exception 'Unexpected operation type: %', operation;
    end if;
exception
    when others then
        raise exception 'Failed to process the row: %', sqlerrm;
end;
$$;

-- Local addition (not on Supabase): wake a LISTENing local Realtime server. The
-- payload is only the id; the server reads the row (and applies RLS) itself.
create function realtime.notify_message() returns trigger
language plpgsql
as $$
begin
    perform pg_notify('realtime_messages', new.id::text);
    return null;
end;
$$;
comment on function realtime.notify_message() is
    'Local only: NOTIFY realtime_messages with the new message id for the local Realtime server.';

create trigger notify_message
    after insert on realtime.messages
    for each row execute function realtime.notify_message();

-- Grants as the Realtime migrations set them.
grant usage on schema realtime to postgres, anon, authenticated, service_role;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
grant delete, truncate, references, trigger on realtime.messages to postgres;
grant execute on function realtime.topic() to anon, authenticated, service_role;
revoke execute on function realtime.notify_message() from public;

-- ----------------------------------------------------------------------- publication
do $$
begin
    if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
        create publication supabase_realtime;
    end if;
end
$$;
