-- Archived test cases back (triggers off, see retention_restore_test_runs.sql): skipped
-- when the suite is gone or the suite has a case with that stable id again; a
-- since-deleted endpoint becomes null.
with input as (
    select x.value as v from jsonb_array_elements(%(rows)s::jsonb) as x
),
inserted as (
    insert into public.test_cases
    select rec.*
      from input as i
      cross join lateral jsonb_populate_record(null::public.test_cases, i.v || jsonb_build_object(
               'api_endpoint_id', case when exists (select 1 from public.api_endpoints as e
                                                     where e.id = (i.v ->> 'api_endpoint_id')::uuid
                                                       and e.project_id = (i.v ->> 'project_id')::uuid)
                                       then i.v -> 'api_endpoint_id' end)) as rec
     where exists (select 1 from public.test_suites as s
                    where s.id = (i.v ->> 'suite_id')::uuid
                      and s.project_id = (i.v ->> 'project_id')::uuid)
    on conflict do nothing
    returning 1
)
select count(*) from inserted;
