-- Quarantine a test case, or change the reason of its quarantine.
insert into public.test_quarantines (test_case_id, reason)
values (%(test_case_id)s, %(reason)s)
on conflict (test_case_id) do update set reason = excluded.reason
returning (xmax = 0) as created;
