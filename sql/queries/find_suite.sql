select id, content_hash from public.test_suites where project_id = %(project_id)s and slug = %(slug)s;
