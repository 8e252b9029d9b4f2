-- Environments of a project and their variables. Secret values are stored only as
-- ciphertext (encrypted by the client with the key named by key_id); authenticated
-- users cannot read that column at all (column privileges in 0009), admins get it
-- through public.environment_secrets().

create table public.environments (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null references public.projects (id) on delete cascade,
    name text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    base_url text check (base_url is null or base_url ~ '^https?://[^\s]+$'),
    description text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint environments_project_id_name_key unique (project_id, name),
    constraint environments_project_id_id_key unique (project_id, id)
);
alter table public.environments enable row level security;
comment on table public.environments is 'A target environment of a project (staging, production...).';
comment on column public.environments.id is 'Primary key.';
comment on column public.environments.organization_id is 'Owning organisation (copied from the project).';
comment on column public.environments.project_id is 'The project (immutable).';
comment on column public.environments.name is 'Name unique within the project, as given to --env.';
comment on column public.environments.base_url is 'Base URL requests are joined to (http/https).';
comment on column public.environments.description is 'Free text.';
comment on column public.environments.created_at is 'When the environment was created.';
comment on column public.environments.updated_at is 'When it last changed (trigger-maintained).';
create index environments_organization_id_idx on public.environments (organization_id);

create table public.environment_variables (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    project_id uuid not null,
    environment_id uuid not null,
    name text not null check (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
    is_secret boolean not null default false,
    value text,
    encrypted_value bytea,
    key_id text,
    description text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint environment_variables_environment_fkey foreign key (project_id, environment_id)
        references public.environments (project_id, id) on delete cascade,
    constraint environment_variables_environment_id_name_key unique (environment_id, name),
    -- a secret has ciphertext and a key id and never a plain value; a plain variable
    -- has no ciphertext
    constraint environment_variables_secret_shape check (
        case when is_secret
            then value is null and encrypted_value is not null and key_id is not null
            else encrypted_value is null and key_id is null
        end
    )
);
alter table public.environment_variables enable row level security;
comment on table public.environment_variables is
    'A variable of an environment; secrets are kept only as ciphertext.';
comment on column public.environment_variables.id is 'Primary key.';
comment on column public.environment_variables.organization_id is 'Owning organisation (copied from the environment).';
comment on column public.environment_variables.project_id is 'The project (copied from the environment).';
comment on column public.environment_variables.environment_id is 'The environment (immutable).';
comment on column public.environment_variables.name is 'Variable name (identifier), unique within the environment.';
comment on column public.environment_variables.is_secret is 'Secret variables have encrypted_value and no value.';
comment on column public.environment_variables.value is 'Plain value of a non-secret variable (null for secrets).';
comment on column public.environment_variables.encrypted_value is
    'Ciphertext of a secret value; not readable by authenticated users (admins: environment_secrets()).';
comment on column public.environment_variables.key_id is 'Which encryption key produced encrypted_value.';
comment on column public.environment_variables.description is 'Free text.';
comment on column public.environment_variables.created_at is 'When the variable was created.';
comment on column public.environment_variables.updated_at is 'When it last changed (trigger-maintained).';
create index environment_variables_organization_id_idx on public.environment_variables (organization_id);
create index environment_variables_environment_idx on public.environment_variables (project_id, environment_id);

create trigger inherit_scope before insert or update of project_id, organization_id
    on public.environments
    for each row execute function private.inherit_scope('projects', 'project_id', 'organization_id');
create trigger inherit_scope before insert or update of environment_id, project_id, organization_id
    on public.environment_variables
    for each row execute function private.inherit_scope('environments', 'environment_id', 'organization_id', 'project_id');

create trigger set_updated_at before update on public.environments
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
create trigger set_updated_at before update on public.environment_variables
    for each row when (old.* is distinct from new.*) execute function private.set_updated_at();
