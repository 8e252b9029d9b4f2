-- Whether a session is still alive (signed out sessions are deleted).
select exists (select 1 from auth.sessions where id = %(id)s);
