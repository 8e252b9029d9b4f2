-- Change an account: each field only when given (null keeps the current value).
update auth.users
   set email = coalesce(%(email)s, email),
       encrypted_password = coalesce(%(password_hash)s, encrypted_password),
       raw_user_meta_data = coalesce(%(user_metadata)s, raw_user_meta_data),
       raw_app_meta_data = coalesce(%(app_metadata)s, raw_app_meta_data),
       role = coalesce(%(role)s, role),
       email_confirmed_at = case when %(confirm)s then coalesce(email_confirmed_at, now())
                                 else email_confirmed_at end,
       updated_at = now()
 where id = %(id)s and deleted_at is null;
