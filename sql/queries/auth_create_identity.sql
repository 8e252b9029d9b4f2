-- The email identity of an account (GoTrue: provider_id is the user id for email).
insert into auth.identities (
    provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at
) values (
    %(user_id)s::uuid::text, %(user_id)s::uuid, %(identity_data)s, 'email', now(), now(), now()
);
