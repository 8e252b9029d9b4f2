-- The refresh token presented (by hash), locked: one rotation wins.
select t.id, t.user_id, t.revoked, t.session_id, s.created_at as session_created_at
  from auth.refresh_tokens as t
  join auth.sessions as s on s.id = t.session_id
 where t.token = %(token_hash)s
   for update of t;
