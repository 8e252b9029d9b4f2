-- Chunks a previous (crashed) retention run left unfinished, oldest first.
select id, batch, seq, phase, state, as_of, project_ids, ids, archive_key, manifest
  from private.retention_journal
 where state <> 'deleted'
 order by created_at, batch, seq;
