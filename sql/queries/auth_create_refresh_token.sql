-- A refresh token of a session; only its SHA-256 is stored (the token itself is the secret).
insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
values ('00000000-0000-0000-0000-000000000000', %(token_hash)s, %(user_id)s::text, false, now(), now(),
        %(parent)s, %(session_id)s);
