-- Projects named (or slugged) %(name)s, in any organisation: the --project filter.
select p.id from public.projects as p where p.name = %(name)s or p.slug = %(name)s order by p.id;
