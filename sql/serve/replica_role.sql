select pg_catalog.set_config('session_replication_role', 'replica', true)
