-- A new account (the profile in public.users follows by trigger).
insert into auth.users (
    instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
    raw_app_meta_data, raw_user_meta_data, created_at, updated_at, last_sign_in_at, is_anonymous
) values (
    '00000000-0000-0000-0000-000000000000', %(id)s, 'authenticated', %(role)s, %(email)s,
    %(password_hash)s, case when %(confirmed)s then now() end,
    %(app_metadata)s, %(user_metadata)s, now(), now(), %(last_sign_in_at)s, false
);
