-- Stable ids of a suite's quarantined test cases (read when a run starts).
select c.stable_id
  from public.test_quarantines as q
  join public.test_cases as c on c.id = q.test_case_id
 where c.suite_id = %(suite_id)s
 order by c.stable_id;
