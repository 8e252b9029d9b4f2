-- Archived dependency edges back (triggers off): skipped unless both cases exist.
with input as (
    select x.value as v from jsonb_array_elements(%(rows)s::jsonb) as x
),
inserted as (
    insert into public.test_dependencies
    select rec.*
      from input as i
      cross join lateral jsonb_populate_record(null::public.test_dependencies, i.v) as rec
     where exists (select 1 from public.test_cases as c where c.id = rec.test_case_id)
       and exists (select 1 from public.test_cases as c where c.id = rec.depends_on_test_case_id)
    on conflict do nothing
    returning 1
)
select count(*) from inserted;
