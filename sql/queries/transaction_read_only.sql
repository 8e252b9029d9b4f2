-- The current transaction only reads.
set transaction read only
