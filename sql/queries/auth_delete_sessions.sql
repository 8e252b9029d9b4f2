-- End every session of a user, except one when %(keep)s is given (scope=others).
delete from auth.sessions
 where user_id = %(user_id)s and (%(keep)s::uuid is null or id <> %(keep)s::uuid);
