-- Encrypted environment variables, locked for a key rotation.
select id, name, encrypted_value, key_id from public.environment_variables
 where encrypted_value is not null order by id for update;
