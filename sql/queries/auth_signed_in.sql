-- Record a successful sign-in.
update auth.users set last_sign_in_at = now(), updated_at = now() where id = %(id)s;
