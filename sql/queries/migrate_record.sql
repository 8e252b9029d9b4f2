-- Record one applied migration.
insert into runner_meta.schema_migrations (version, name, checksum)
values (%(version)s, %(name)s, %(checksum)s)
