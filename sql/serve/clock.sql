-- Where the realtime listener starts reading: messages by local time, changes by now().
select localtimestamp, now()
