-- A new chunk: its ids are taken (state pending) before anything is archived.
insert into private.retention_journal (batch, seq, phase, as_of, project_ids, ids, archive_root, archive_key)
values (%(batch)s, %(seq)s, %(phase)s, %(as_of)s, %(project_ids)s::uuid[], %(ids)s::uuid[],
        %(archive_root)s, %(archive_key)s)
returning id;
