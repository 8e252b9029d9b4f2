-- A new error category, response_too_large: the response body was larger than the
-- test's max_response_bytes (default 10 MiB), so reading stopped at the cap and the
-- attempt failed (issue 14, "deadlines and caps on the wire").
--
-- The three columns that restrict error categories get the same list plus the new
-- value. Each check is added NOT VALID and then validated, so the tables are only
-- briefly locked; every existing row already satisfies the wider list.

alter table public.test_results drop constraint test_results_error_category_check;
alter table public.test_results add constraint test_results_error_category_check
    check (error_category in (
        'assertion', 'timeout', 'connection', 'http_5xx', 'template',
        'capture', 'blocked', 'interrupted', 'bailed', 'internal', 'response_too_large'
    )) not valid;
alter table public.test_results validate constraint test_results_error_category_check;
comment on column public.test_results.error_category is
    'Why it did not pass: assertion, timeout, connection, http_5xx, template, capture, blocked, interrupted, bailed, internal, response_too_large.';

alter table public.test_result_details drop constraint test_result_details_error_category_check;
alter table public.test_result_details add constraint test_result_details_error_category_check
    check (error_category in (
        'assertion', 'timeout', 'connection', 'http_5xx', 'template',
        'capture', 'blocked', 'interrupted', 'bailed', 'internal', 'response_too_large'
    )) not valid;
alter table public.test_result_details
    validate constraint test_result_details_error_category_check;

alter table public.failure_analysis drop constraint failure_analysis_error_category_check;
alter table public.failure_analysis add constraint failure_analysis_error_category_check
    check (error_category in (
        'assertion', 'timeout', 'connection', 'http_5xx', 'template',
        'capture', 'blocked', 'interrupted', 'bailed', 'internal', 'response_too_large'
    )) not valid;
alter table public.failure_analysis validate constraint failure_analysis_error_category_check;
