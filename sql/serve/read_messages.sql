-- Broadcast messages by id (the ids NOTIFY realtime_messages delivered).
select id::text, topic, event, payload, coalesce(private, false), inserted_at
from realtime.messages
where id = any(%(ids)s::uuid[]) and extension = 'broadcast'
