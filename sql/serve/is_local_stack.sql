-- True on the local compatibility stack (bootstrap marker present, no real Realtime schema).
select pg_catalog.to_regclass('realtime.subscription') is null
   and pg_catalog.to_regprocedure('realtime.notify_message()') is not null
