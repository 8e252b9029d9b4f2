-- Every personal credential, locked for a key rotation.
select id, name, encrypted_secret, key_id from public.api_credentials order by id for update;
