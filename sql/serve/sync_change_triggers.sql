select realtime.local_sync_change_triggers()
