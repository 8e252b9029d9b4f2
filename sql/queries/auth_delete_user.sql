-- Delete an account (hard) or mark it deleted (soft); sessions end either way.
with ended as (delete from auth.sessions where user_id = %(id)s)
update auth.users set deleted_at = now(), updated_at = now()
 where id = %(id)s and %(soft)s and deleted_at is null;
