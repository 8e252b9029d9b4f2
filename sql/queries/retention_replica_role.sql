-- Restore rows as they were: triggers and foreign-key checks off for this transaction.
set local session_replication_role = replica
