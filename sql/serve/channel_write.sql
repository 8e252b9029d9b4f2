-- As the user: may they write to the topic (INSERT policies on realtime.messages)?
insert into realtime.messages (topic, extension, private, event, payload)
values (%(topic)s, %(extension)s, true, 'probe', '{}'::jsonb)
