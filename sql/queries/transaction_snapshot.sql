-- The current transaction reads one consistent snapshot and writes nothing.
set transaction isolation level repeatable read, read only
