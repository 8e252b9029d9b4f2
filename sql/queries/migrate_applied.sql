-- Applied migrations with their checksums.
select version, checksum from runner_meta.schema_migrations
