-- Which of the given tests of a run have passed.
select test_key
  from public.test_results
 where run_id = %(run_id)s and test_key = any(%(tests)s) and status = 'passed'
