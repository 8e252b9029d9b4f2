-- Whether the auth schema exists (a Supabase project, or already bootstrapped).
select exists(select 1 from pg_namespace where nspname = 'auth')
