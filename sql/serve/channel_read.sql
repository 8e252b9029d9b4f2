-- As the user (role, claims and realtime.topic set): which probe rows are visible.
select extension from realtime.messages where id = any(%(ids)s::uuid[])
