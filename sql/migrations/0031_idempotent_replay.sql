-- Every write the runner sends can be sent twice: nothing is written twice.
--
-- The store retries a batch whose answer was lost (the database went away after the
-- commit) and replays spill files left by an outage, at the end of the run or with a
-- later command (runner.store.replay). So each function it calls must be idempotent:
--
--   * record_results skips a (run, test key) already recorded (on conflict do
--     nothing, 0010): its checks, attempts, counters and events come once.
--   * merge_captured_data_many, set_shared_auth_token and set_shared_variables merge
--     the same values again; finish_run with the status the run already has is a
--     no-op (0010).
--   * tests_started was not: a start sent again announced the test a second time
--     (another test_started event) and put it back among the running tests, where
--     nothing took it out again when its result had already been recorded. Now a key
--     already running, or already recorded in the run, is skipped.

-- ---------------------------------------------------------------- tests_started
-- As in 0021, skipping keys already running or already recorded in the run.
create or replace function public.tests_started(p_run_id uuid, p_test_keys text[]) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
    v_running jsonb;
    v_keys text[];
    v_n integer;
    v_base bigint;
    v_at text;
begin
    if p_test_keys is null then
        raise exception using errcode = 'invalid_parameter_value', message = 'p_test_keys is required';
    end if;
    if exists (select 1 from pg_catalog.unnest(p_test_keys) as k
                where k is null or pg_catalog.char_length(k) not between 1 and 500) then
        raise exception using errcode = 'invalid_parameter_value',
            message = 'each test key must be 1 to 500 characters';
    end if;
    select c.running_tests into v_running
      from public.test_execution_context as c
     where c.run_id = v_run.id;
    -- each key once, in the order given; a key already running or already recorded in
    -- this run was announced before (a batch written again, a spill file replayed)
    v_keys := array(select u.k from pg_catalog.unnest(p_test_keys) with ordinality as u (k, o)
                     where not coalesce(v_running ? u.k, false)
                       and not exists (select 1 from public.test_results as r
                                        where r.run_id = v_run.id and r.test_key = u.k)
                     group by u.k order by pg_catalog.min(u.o));
    v_n := pg_catalog.cardinality(v_keys);
    if v_n = 0 then
        return 0;
    end if;
    -- the status is re-checked under the row lock: a run finished meanwhile (by a
    -- writer we waited for) gets no event after its run_completed
    update public.test_runs set event_seq = event_seq + v_n
     where id = v_run.id and status = 'running'
    returning event_seq - v_n into v_base;
    if v_base is null then
        return 0;
    end if;
    v_at := private.utc_iso(pg_catalog.clock_timestamp());
    begin
        insert into realtime.messages (id, topic, extension, event, private, payload)
        select e.id, 'run:' || v_run.id::text, 'broadcast', 'test_started', true,
               pg_catalog.jsonb_build_object('type', 'test_started', 'run_id', v_run.id,
                                             'seq', v_base + e.o, 'at', v_at, 'id', e.id,
                                             'test_key', e.k)
          from (select pg_catalog.gen_random_uuid() as id, u.k, u.o
                  from pg_catalog.unnest(v_keys) with ordinality as u (k, o)) as e
         order by e.o;
    exception
        when others then
            raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
    end;
    perform pg_catalog.set_config('runner.context_event', 'skip', true);
    insert into public.test_execution_context as c (run_id, organization_id, project_id, running_tests)
    values (v_run.id, v_run.organization_id, v_run.project_id, pg_catalog.to_jsonb(v_keys))
    on conflict (run_id) do update
        set running_tests = (c.running_tests - v_keys) || pg_catalog.to_jsonb(v_keys);
    perform pg_catalog.set_config('runner.context_event', '', true);
    return v_n;
end;
$$;
