-- One auth.users account as GoTrue renders it (never the password hash), with its identities.
select json_build_object(
           'id', u.id,
           'aud', coalesce(u.aud, 'authenticated'),
           'role', coalesce(u.role, 'authenticated'),
           'email', coalesce(u.email, ''),
           'email_confirmed_at', u.email_confirmed_at,
           'phone', coalesce(u.phone, ''),
           'confirmed_at', u.confirmed_at,
           'last_sign_in_at', u.last_sign_in_at,
           'app_metadata', coalesce(u.raw_app_meta_data, '{}'::jsonb),
           'user_metadata', coalesce(u.raw_user_meta_data, '{}'::jsonb),
           'identities', coalesce(
               (select json_agg(json_build_object(
                           'identity_id', i.id,
                           'id', i.provider_id,
                           'user_id', i.user_id,
                           'identity_data', i.identity_data,
                           'provider', i.provider,
                           'last_sign_in_at', i.last_sign_in_at,
                           'created_at', i.created_at,
                           'updated_at', i.updated_at,
                           'email', i.email
                       ) order by i.created_at)
                  from auth.identities as i
                 where i.user_id = u.id),
               '[]'::json
           ),
           'created_at', u.created_at,
           'updated_at', u.updated_at,
           'is_anonymous', u.is_anonymous,
           'is_sso_user', u.is_sso_user
       ) as "user"
  from auth.users as u
 where u.id = %(id)s and u.deleted_at is null;
