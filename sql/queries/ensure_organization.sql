-- The organisation a CLI run belongs to, created on first use (writes nothing when it exists).
insert into public.organizations (name, slug)
values (%(name)s, %(slug)s)
on conflict (slug) do nothing;
