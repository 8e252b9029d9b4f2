-- End one session (its refresh tokens go with it).
delete from auth.sessions where id = %(id)s;
