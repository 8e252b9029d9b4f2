-- Authorising a private channel as Supabase Realtime does: probe rows for the topic
-- (inserted by serve's owner role inside a transaction that is always rolled back),
-- then, as the user, see which of them the SELECT policies on realtime.messages let
-- through. Returns the probe ids.
insert into realtime.messages (topic, extension, private, event, payload)
values (%(topic)s, 'broadcast', true, 'probe', '{}'::jsonb),
       (%(topic)s, 'presence', true, 'probe', '{}'::jsonb)
returning id::text, extension
