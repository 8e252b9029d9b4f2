select pg_catalog.set_config('realtime.topic', %(topic)s, true)
