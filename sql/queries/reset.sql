-- db reset: drop what the migrations created, keep what Supabase owns (auth, realtime,
-- storage). On the embedded default the compatibility bootstrap is re-applied by the
-- next migrate only if auth is missing, so it is dropped too there (see db.reset).
drop schema if exists private cascade;
drop schema if exists runner_meta cascade;
drop schema if exists public cascade;
create schema public;
comment on schema public is 'standard public schema';
grant usage on schema public to postgres, anon, authenticated, service_role;
grant all on schema public to postgres;
