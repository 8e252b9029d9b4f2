insert into public.environments (project_id, name, base_url)
values (%(project_id)s, %(name)s, %(base_url)s)
on conflict (project_id, name) do update set base_url = excluded.base_url
 where public.environments.base_url is distinct from excluded.base_url;
