-- The chunk's files and manifest are written.
update private.retention_journal
   set state = 'archived', archived_at = now(), manifest = %(manifest)s::jsonb,
       archive_root = %(archive_root)s
 where id = %(id)s and state in ('pending', 'archived');
