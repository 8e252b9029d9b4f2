-- Broadcast messages inserted since a moment (after the listener lost its connection).
select id::text, topic, event, payload, coalesce(private, false), inserted_at
from realtime.messages
where inserted_at >= %(since)s and extension = 'broadcast'
order by inserted_at
limit 10000
