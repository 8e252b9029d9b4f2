-- Archived daily metrics back (triggers off). Their month in performance_metrics_monthly
-- already counts them (rolled_dates), so a later roll-up deletes them without
-- counting them again. Skipped when the test case or environment is gone (cascade).
with inserted as (
    insert into public.performance_metrics
    select rec.*
      from jsonb_array_elements(%(rows)s::jsonb) as x
      cross join lateral jsonb_populate_record(null::public.performance_metrics, x.value) as rec
     where exists (select 1 from public.test_cases as c where c.id = (x.value ->> 'test_case_id')::uuid)
       and (x.value ->> 'environment_id' is null
            or exists (select 1 from public.environments as e
                        where e.id = (x.value ->> 'environment_id')::uuid))
    on conflict do nothing
    returning 1
)
select count(*) from inserted;
