-- Archived results back (triggers off, see retention_restore_test_runs.sql): skipped
-- when the run is gone; a since-deleted test case or environment becomes null.
with input as (
    select x.value as v from jsonb_array_elements(%(rows)s::jsonb) as x
),
inserted as (
    insert into public.test_results
    select rec.*
      from input as i
      cross join lateral jsonb_populate_record(null::public.test_results, i.v || jsonb_build_object(
               'test_case_id', case when exists (select 1 from public.test_cases as c
                                                  where c.id = (i.v ->> 'test_case_id')::uuid
                                                    and c.project_id = (i.v ->> 'project_id')::uuid)
                                    then i.v -> 'test_case_id' end,
               'environment_id', case when exists (select 1 from public.environments as e
                                                    where e.id = (i.v ->> 'environment_id')::uuid)
                                      then i.v -> 'environment_id' end)) as rec
     where exists (select 1 from public.test_runs as t where t.id = (i.v ->> 'run_id')::uuid)
    on conflict do nothing
    returning 1
)
select count(*) from inserted;
