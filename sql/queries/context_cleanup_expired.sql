-- Delete contexts past expires_at; returns how many.
select public.cleanup_expired_contexts()
