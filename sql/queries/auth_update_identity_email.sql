-- Keep the email identity in step with a changed email.
update auth.identities
   set identity_data = identity_data || jsonb_build_object('email', %(email)s::text), updated_at = now()
 where user_id = %(user_id)s and provider = 'email';
