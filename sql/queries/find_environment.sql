select id from public.environments where project_id = %(project_id)s and name = %(name)s;
