-- Archived contexts back (triggers off, see retention_restore_test_runs.sql); skipped
-- when the run is gone or already has a context. Token values were never archived.
with inserted as (
    insert into public.test_execution_context
    select rec.*
      from jsonb_array_elements(%(rows)s::jsonb) as x
      cross join lateral jsonb_populate_record(null::public.test_execution_context, x.value) as rec
     where exists (select 1 from public.test_runs as t where t.id = (x.value ->> 'run_id')::uuid)
    on conflict do nothing
    returning 1
)
select count(*) from inserted;
