-- How many accounts exist (admin API paging).
select count(*) from auth.users where deleted_at is null;
