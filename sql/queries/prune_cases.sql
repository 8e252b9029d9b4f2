-- Tests no longer in the file leave the configuration (their past results keep their key).
delete from public.test_cases
 where suite_id = %(suite_id)s and not (stable_id = any(%(stable_ids)s::text[]));
