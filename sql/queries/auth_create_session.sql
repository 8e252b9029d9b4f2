-- A session (what a refresh token family and the session_id claim belong to).
insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
values (%(id)s, %(user_id)s, now(), now(), 'aal1', %(user_agent)s, %(ip)s);
