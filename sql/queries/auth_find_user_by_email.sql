-- The password account for an email (case-insensitive), with its bcrypt hash.
select u.id, u.encrypted_password, u.email_confirmed_at is not null as confirmed
  from auth.users as u
 where lower(u.email) = lower(%(email)s) and not u.is_sso_user and u.deleted_at is null
 limit 1;
