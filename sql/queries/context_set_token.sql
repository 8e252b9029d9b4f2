-- Set (or, with a null token, remove) one named shared auth token of a run.
select public.set_shared_auth_token(%(run_id)s, %(name)s, %(token)s)
