-- A stored report template by name: the run's project's own first, then the
-- organisation-wide one.
select name, format, template
  from public.report_templates
 where organization_id = %(organization_id)s
   and name = %(name)s
   and (project_id = %(project_id)s or project_id is null)
 order by project_id nulls last
 limit 1;
