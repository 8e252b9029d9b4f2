-- The project a suite is synced into, created on first use.
insert into public.projects (organization_id, name, slug)
select o.id, %(name)s, %(slug)s from public.organizations as o where o.slug = %(org_slug)s
on conflict (organization_id, slug) do nothing;
