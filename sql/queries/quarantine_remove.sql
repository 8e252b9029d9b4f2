-- Lift a test case's quarantine; returns the row removed, if any.
delete from public.test_quarantines where test_case_id = %(test_case_id)s returning id;
