-- Plain (non-secret) variables of an environment; secrets stay references in the suite.
insert into public.environment_variables (project_id, environment_id, name, value)
select %(project_id)s, %(environment_id)s, v.key, v.value
  from jsonb_each_text(%(variables)s::jsonb) as v
on conflict (environment_id, name) do update set value = excluded.value
 where public.environment_variables.value is distinct from excluded.value
   and not public.environment_variables.is_secret;
