-- Archived checks and attempts back (triggers off); skipped when the result is gone.
with inserted as (
    insert into public.test_result_details
    select rec.*
      from jsonb_array_elements(%(rows)s::jsonb) as x
      cross join lateral jsonb_populate_record(null::public.test_result_details, x.value) as rec
     where exists (select 1 from public.test_results as r where r.id = (x.value ->> 'result_id')::uuid)
    on conflict do nothing
    returning 1
)
select count(*) from inserted;
