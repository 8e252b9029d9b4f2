-- One credential re-encrypted under the new key.
update public.api_credentials set encrypted_secret = %s, key_id = %s where id = %s;
