-- Seed data for `supabase db reset`. The runner needs none: organisations, projects
-- and suites are created by `python -m runner run-suite` when it syncs a suite file.
select 1;
