-- Act as a role with JWT claims for the current transaction only, as PostgREST does.
-- Positional parameters: role, claims (JSON text).
select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)
