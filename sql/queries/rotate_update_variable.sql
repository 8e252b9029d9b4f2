-- One environment variable re-encrypted under the new key.
update public.environment_variables set encrypted_value = %s, key_id = %s where id = %s;
