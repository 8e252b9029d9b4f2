-- Archived runs back into test_runs. The caller sets session_replication_role =
-- replica for the transaction, so no trigger runs (history, counters and events are
-- not counted twice) and updated_at stays as archived. Rows already present are left
-- alone; a run whose project is gone is skipped; links to a since-deleted suite,
-- environment, suite version or user become null, as their ON DELETE SET NULL would have made them.
with input as (
    select x.value as v from jsonb_array_elements(%(rows)s::jsonb) as x
),
inserted as (
    insert into public.test_runs
    select rec.*
      from input as i
      cross join lateral jsonb_populate_record(null::public.test_runs, i.v || jsonb_build_object(
               'suite_id', case when exists (select 1 from public.test_suites as s
                                              where s.id = (i.v ->> 'suite_id')::uuid
                                                and s.project_id = (i.v ->> 'project_id')::uuid)
                                then i.v -> 'suite_id' end,
               'environment_id', case when exists (select 1 from public.environments as e
                                                    where e.id = (i.v ->> 'environment_id')::uuid
                                                      and e.project_id = (i.v ->> 'project_id')::uuid)
                                      then i.v -> 'environment_id' end,
               'suite_version_id', case when exists (select 1 from public.suite_versions as sv
                                                      where sv.id = (i.v ->> 'suite_version_id')::uuid)
                                        then i.v -> 'suite_version_id' end,
               'created_by', case when exists (select 1 from public.users as u
                                                where u.id = (i.v ->> 'created_by')::uuid)
                                  then i.v -> 'created_by' end)) as rec
     where exists (select 1 from public.projects as p where p.id = (i.v ->> 'project_id')::uuid)
    on conflict do nothing
    returning 1
)
select count(*) from inserted;
