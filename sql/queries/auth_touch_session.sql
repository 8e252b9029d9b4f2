-- A session was refreshed.
update auth.sessions set refreshed_at = now()::timestamp, updated_at = now() where id = %(id)s;
