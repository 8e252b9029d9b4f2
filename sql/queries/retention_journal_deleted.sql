-- The chunk's rows are deleted (same transaction as the delete).
update private.retention_journal
   set state = 'deleted', deleted_at = now(),
       manifest = coalesce(manifest, '{}'::jsonb) || jsonb_build_object('deleted_rows', %(deleted)s::bigint)
 where id = %(id)s and state = 'archived';
