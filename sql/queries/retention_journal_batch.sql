-- The archived chunks of one batch, for its manifest.json.
select seq, phase, archive_key, state
  from private.retention_journal
 where batch = %(batch)s and state in ('archived', 'deleted')
 order by seq;
