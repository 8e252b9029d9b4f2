-- Delete an account and everything that cascades from it.
delete from auth.users where id = %(id)s;
