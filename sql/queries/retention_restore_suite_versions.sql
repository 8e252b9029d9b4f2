-- Archived suite versions back (triggers off): skipped when the suite is gone.
with input as (
    select x.value as v from jsonb_array_elements(%(rows)s::jsonb) as x
),
inserted as (
    insert into public.suite_versions
    select rec.*
      from input as i
      cross join lateral jsonb_populate_record(null::public.suite_versions, i.v) as rec
     where exists (select 1 from public.test_suites as s
                    where s.id = rec.suite_id and s.project_id = rec.project_id)
    on conflict do nothing
    returning 1
)
select count(*) from inserted;
