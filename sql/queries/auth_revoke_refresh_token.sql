-- Rotate: the presented token is used up.
update auth.refresh_tokens set revoked = true, updated_at = now() where id = %(id)s;
