insert into public.test_runs
       (project_id, suite_id, suite_name, environment_id, environment_name, trigger, total_tests, metadata)
values (%(project_id)s, %(suite_id)s, %(suite_name)s, %(environment_id)s, %(environment_name)s,
        %(trigger)s, %(total_tests)s, %(metadata)s)
returning id;
