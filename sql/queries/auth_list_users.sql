-- A page of accounts for the admin API, oldest first.
select u.id from auth.users as u
 where u.deleted_at is null
 order by u.created_at, u.id
 limit %(limit)s offset %(offset)s;
