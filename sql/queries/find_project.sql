select p.id, p.organization_id
  from public.projects as p
  join public.organizations as o on o.id = p.organization_id
 where o.slug = %(org_slug)s and p.slug = %(slug)s;
