-- Realtime: run events broadcast by the database, and who may listen.
--
-- Every event is a broadcast (a row of realtime.messages, private, extension
-- broadcast) written by a trigger or a run function inside the transaction that
-- writes the row it describes: it exists exactly when that row commits, and
-- vanishes with a rollback. Single events go through realtime.send(payload, event,
-- topic, true). Per-test events come in batches (hundreds per statement), and
-- realtime.send costs a subtransaction per message: those are inserted the way
-- realtime.send inserts them, in one statement per batch inside one exception
-- block, so that, as with realtime.send, a failed broadcast never fails the write.
-- Topics (private channels):
--   run:<run id>          every event of the run
--   project:<project id>  run_started and run_completed of the project's runs
-- Events: run_started, test_started, test_completed, test_failed (status failed or
-- error), test_skipped, context_updated (names of changed keys, never values),
-- run_completed; other migrations add more through private.emit_run_event.
-- Every payload carries type, run_id, seq, at. seq counts the run's events from 1
-- without gaps (test_runs.event_seq holds the last one given out); the row lock that
-- allocating takes orders the events of concurrent writers by commit. run_completed
-- is the last event of a run.
-- docs/realtime.md documents every payload; a subscriber that sees a gap in seq
-- re-reads the tables.
--
-- Also here: public.tests_started (the one event without a row of its own), the
-- SELECT/INSERT policies on realtime.messages, and the supabase_realtime publication
-- for postgres_changes subscribers.

-- ------------------------------------------------------------------ columns
alter table public.test_runs
    add column event_seq bigint not null default 0 check (event_seq >= 0);
comment on column public.test_runs.event_seq is
    'Sequence number of the run''s last Realtime event (maintained by the database; 0: none yet).';

alter table public.test_execution_context
    add column running_tests jsonb not null default '[]'::jsonb
        check (jsonb_typeof(running_tests) = 'array');
comment on column public.test_execution_context.running_tests is
    'Test keys started (tests_started) and not yet recorded, as a JSON array.';

-- ------------------------------------------------------------------ payloads
-- Timestamps in payloads are UTC ISO 8601 whatever the session's TimeZone.
create function private.utc_iso(p_at timestamptz) returns text
language sql
immutable
set search_path = ''
as $$
    select pg_catalog.to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
comment on function private.utc_iso(timestamptz) is
    'A timestamp as UTC ISO 8601 text (2026-01-01T10:00:00.000000Z); null stays null.';

-- The envelope every event has; the four envelope keys win over the body's, and a
-- body's id is dropped: realtime.send puts the message id there.
create function private.run_event_payload(p_type text, p_run_id uuid, p_seq bigint, p_body jsonb)
returns jsonb
language sql
volatile
set search_path = ''
as $$
    select (coalesce(p_body, '{}'::jsonb) - 'id') || pg_catalog.jsonb_build_object(
        'type', p_type,
        'run_id', p_run_id,
        'seq', p_seq,
        'at', private.utc_iso(pg_catalog.clock_timestamp()))
$$;
comment on function private.run_event_payload(text, uuid, bigint, jsonb) is
    'Event payload: p_body (without id) plus type, run_id, seq and at (UTC, when it was made).';

-- What run_started and run_completed say about a run (no metadata: it is free-form).
create function private.run_event_body(p_run public.test_runs) returns jsonb
language sql
stable
set search_path = ''
as $$
    select pg_catalog.jsonb_build_object(
        'project_id', p_run.project_id,
        'suite_id', p_run.suite_id,
        'suite_name', p_run.suite_name,
        'environment_id', p_run.environment_id,
        'environment_name', p_run.environment_name,
        'trigger', p_run.trigger,
        'status', p_run.status,
        'started_at', private.utc_iso(p_run.started_at),
        'finished_at', private.utc_iso(p_run.finished_at),
        'duration_ms', p_run.duration_ms,
        'total_tests', p_run.total_tests,
        'completed_tests', p_run.completed_tests,
        'passed_tests', p_run.passed_tests,
        'failed_tests', p_run.failed_tests,
        'errored_tests', p_run.errored_tests,
        'skipped_tests', p_run.skipped_tests,
        'created_by', p_run.created_by)
$$;
comment on function private.run_event_body(public.test_runs) is
    'The run fields run_started and run_completed carry (status, counts, times; not metadata).';

-- ---------------------------------------------------------------- emit_run_event
-- The general entry point: other migrations emit their own event types with it
-- (flaky_test_detected, performance_degradation, ...).
create function private.emit_run_event(p_run_id uuid, p_type text, p_payload jsonb)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_seq bigint;
begin
    if p_type is null or p_type !~ '^[a-z][a-z0-9_]{0,62}$' then
        raise exception using errcode = 'invalid_parameter_value',
            message = pg_catalog.format('event type must be lower_snake_case, not %s',
                                        coalesce(p_type, 'null'));
    end if;
    if p_payload is not null and pg_catalog.jsonb_typeof(p_payload) <> 'object' then
        raise exception using errcode = 'invalid_parameter_value',
            message = 'an event payload must be a JSON object';
    end if;
    -- the row lock orders this event after every earlier writer's, until commit
    update public.test_runs set event_seq = event_seq + 1 where id = p_run_id
    returning event_seq into v_seq;
    if v_seq is null then
        return null;  -- no such run: nothing to say
    end if;
    perform realtime.send(private.run_event_payload(p_type, p_run_id, v_seq, p_payload),
                          p_type, 'run:' || p_run_id::text, true);
    return v_seq;
end;
$$;
comment on function private.emit_run_event(uuid, text, jsonb) is
    'Broadcast one event of type p_type (lower_snake_case) on topic run:<p_run_id>: p_payload (a '
    'JSON object, or null) plus type, run_id, seq (the run''s next sequence number) and at. Returns '
    'the seq, or null if the run does not exist. Call it from the transaction that writes what the '
    'event describes. The caller vouches for the payload: never values of the context, tokens, '
    'secrets or snapshots. Not callable by API roles.';

-- ------------------------------------------------------ run_started / run_completed
-- run_started is always seq 1: the row is born with it, at no extra cost.
create function private.test_runs_first_event_seq() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.event_seq := 1;  -- whatever the client sent
    return new;
end;
$$;
comment on function private.test_runs_first_event_seq() is
    'BEFORE INSERT on test_runs: event_seq 1, the seq of run_started.';
create trigger event_seq_on_insert before insert on public.test_runs
    for each row execute function private.test_runs_first_event_seq();

create function private.broadcast_run_lifecycle() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_body jsonb := private.run_event_body(new);
    v_payload jsonb;
    v_seq bigint;
begin
    if tg_op = 'INSERT' then
        v_payload := private.run_event_payload('run_started', new.id, 1, v_body);
        perform realtime.send(v_payload, 'run_started', 'run:' || new.id::text, true);
        perform realtime.send(v_payload, 'run_started', 'project:' || new.project_id::text, true);
    end if;
    if new.status <> 'running' then
        update public.test_runs set event_seq = event_seq + 1 where id = new.id
        returning event_seq into v_seq;
        v_payload := private.run_event_payload('run_completed', new.id, v_seq, v_body);
        perform realtime.send(v_payload, 'run_completed', 'run:' || new.id::text, true);
        perform realtime.send(v_payload, 'run_completed', 'project:' || new.project_id::text, true);
    end if;
    return null;
end;
$$;
comment on function private.broadcast_run_lifecycle() is
    'AFTER INSERT / UPDATE OF status (to final) on test_runs: run_started and run_completed on the '
    'run and project topics.';

create trigger broadcast_run_started after insert on public.test_runs
    for each row execute function private.broadcast_run_lifecycle();
-- AFTER triggers of one event fire in name order: zzz_ comes after every other finish
-- trigger (zz_analyse_finished_run of 0014 emits flaky_test_detected and
-- performance_degradation), so run_completed really is the run's last event.
create trigger zzz_broadcast_run_completed after update of status on public.test_runs
    for each row when (old.status = 'running' and new.status <> 'running')
    execute function private.broadcast_run_lifecycle();

-- ------------------------------------------------------------------ result events
-- Statement-level like the triggers of 0011: a batch costs one UPDATE per run for
-- its range of sequence numbers and one INSERT of its events.
create function private.broadcast_results() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run record;
    v_base bigint;
    -- one time for the batch; the payload is built inline (no helper calls per row)
    v_at text := private.utc_iso(pg_catalog.clock_timestamp());
begin
    for v_run in
        select n.run_id, pg_catalog.count(*) as n, pg_catalog.array_agg(n.test_key) as keys
          from new_results as n
         group by n.run_id
         order by n.run_id  -- a fixed lock order: two batches cannot deadlock
    loop
        update public.test_runs set event_seq = event_seq + v_run.n where id = v_run.run_id
        returning event_seq - v_run.n into v_base;
        begin
            insert into realtime.messages (id, topic, extension, event, private, payload)
            select e.id, 'run:' || v_run.run_id::text, 'broadcast', e.type, true,
                   pg_catalog.jsonb_build_object(
                       'type', e.type,
                       'run_id', v_run.run_id,
                       'seq', v_base + e.i,
                       'at', v_at,
                       'id', e.id,
                       'result_id', e.result_id,
                       'test_key', e.test_key,
                       'test_case_id', e.test_case_id,
                       'name', e.name,
                       'row_index', e.row_index,
                       'status', e.status,
                       'error_category', e.error_category,
                       'message', pg_catalog.left(e.message, 300),
                       'status_code', e.status_code,
                       'response_time_ms', e.response_time_ms,
                       'attempt_count', e.attempt_count,
                       'passed_after_retry', e.passed_after_retry,
                       -- private.utc_iso, inline
                       'started_at', pg_catalog.to_char(e.started_at at time zone 'UTC',
                                                        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                       'finished_at', pg_catalog.to_char(e.finished_at at time zone 'UTC',
                                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
              from (
                select pg_catalog.gen_random_uuid() as id,
                       pg_catalog.row_number() over (
                           order by coalesce(n.finished_at, n.started_at, n.created_at), n.test_key) as i,
                       case n.status when 'passed' then 'test_completed'
                                     when 'skipped' then 'test_skipped'
                                     else 'test_failed' end as type,
                       n.id as result_id, n.test_key, n.test_case_id, n.name, n.row_index, n.status,
                       n.error_category, n.message, n.status_code, n.response_time_ms,
                       n.attempt_count, n.passed_after_retry, n.started_at, n.finished_at
                  from new_results as n
                 where n.run_id = v_run.run_id
              ) as e
             order by e.i;
        exception
            when others then
                raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
        end;
        -- recorded tests are no longer running
        update public.test_execution_context as c
           set running_tests = c.running_tests - v_run.keys
         where c.run_id = v_run.run_id and c.running_tests ?| v_run.keys;
    end loop;
    return null;
end;
$$;
comment on function private.broadcast_results() is
    'AFTER INSERT statement trigger on test_results: test_completed / test_failed / test_skipped per '
    'row (seq allocated per run and batch), and the keys leave running_tests.';

create trigger broadcast_results after insert on public.test_results
    referencing new table as new_results
    for each statement execute function private.broadcast_results();

-- -------------------------------------------------------------- context_updated
-- Names only. Captured data is keyed by test: {"login": ["access_token", "user_id"]}.
-- One pass over both objects (a join of their entries): looking keys up one by one
-- would decompress a large captured_data once per key.
create function private.jsonb_key_changes(p_old jsonb, p_new jsonb, out changed jsonb, out removed jsonb)
language sql
immutable
set search_path = ''
as $$
    select coalesce(pg_catalog.jsonb_agg(coalesce(n.key, o.key) order by coalesce(n.key, o.key))
                        filter (where n.key is not null), '[]'::jsonb),
           coalesce(pg_catalog.jsonb_agg(o.key order by o.key) filter (where n.key is null), '[]'::jsonb)
      from pg_catalog.jsonb_each(coalesce(p_new, '{}'::jsonb)) as n
      full join pg_catalog.jsonb_each(coalesce(p_old, '{}'::jsonb)) as o on o.key = n.key
     where n.value is distinct from o.value
$$;
comment on function private.jsonb_key_changes(jsonb, jsonb) is
    'Keys of p_new that are new or changed (changed) and keys of p_old gone from p_new (removed), '
    'each a sorted JSON array.';

create function private.broadcast_context_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_old_captured jsonb := case when tg_op = 'UPDATE' then old.captured_data else '{}'::jsonb end;
    v_old_vars jsonb := case when tg_op = 'UPDATE' then old.shared_variables else '{}'::jsonb end;
    v_old_tokens jsonb := case when tg_op = 'UPDATE' then old.shared_auth_tokens else '{}'::jsonb end;
    v_tests record;
    v_vars record;
    v_tokens record;
    v_captured jsonb := '{}'::jsonb;
begin
    v_tests := private.jsonb_key_changes(v_old_captured, new.captured_data);
    v_vars := private.jsonb_key_changes(v_old_vars, new.shared_variables);
    v_tokens := private.jsonb_key_changes(v_old_tokens, new.shared_auth_tokens);
    if v_tests.changed = '[]'::jsonb and v_tests.removed = '[]'::jsonb
       and v_vars.changed = '[]'::jsonb and v_vars.removed = '[]'::jsonb
       and v_tokens.changed = '[]'::jsonb and v_tokens.removed = '[]'::jsonb then
        return null;  -- e.g. the same value written again
    end if;
    -- inside each changed test, the names of its changed values
    select coalesce(pg_catalog.jsonb_object_agg(t.key, (private.jsonb_key_changes(
               case when pg_catalog.jsonb_typeof(v_old_captured -> t.key) = 'object'
                    then v_old_captured -> t.key end,
               case when pg_catalog.jsonb_typeof(new.captured_data -> t.key) = 'object'
                    then new.captured_data -> t.key end)).changed), '{}'::jsonb)
      into v_captured
      from pg_catalog.jsonb_array_elements_text(v_tests.changed) as t (key);
    perform private.emit_run_event(new.run_id, 'context_updated', pg_catalog.jsonb_build_object(
        'captured', v_captured,
        'variables', v_vars.changed,
        'tokens', v_tokens.changed,
        'removed', pg_catalog.jsonb_build_object(
            'captured', v_tests.removed,
            'variables', v_vars.removed,
            'tokens', v_tokens.removed)));
    return null;
end;
$$;
comment on function private.broadcast_context_change() is
    'AFTER INSERT/UPDATE on test_execution_context: context_updated with the names of the captured '
    'values, variables and tokens that changed or were removed; never their values.';

create trigger broadcast_context_created after insert on public.test_execution_context
    for each row
    when (new.captured_data <> '{}'::jsonb or new.shared_variables <> '{}'::jsonb
          or new.shared_auth_tokens <> '{}'::jsonb)
    execute function private.broadcast_context_change();
create trigger broadcast_context_updated after update on public.test_execution_context
    for each row
    when (old.captured_data is distinct from new.captured_data
          or old.shared_variables is distinct from new.shared_variables
          or old.shared_auth_tokens is distinct from new.shared_auth_tokens)
    execute function private.broadcast_context_change();

-- ------------------------------------------------------------------ tests_started
create function public.tests_started(p_run_id uuid, p_test_keys text[]) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run public.test_runs := private.writable_run(p_run_id);
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
    -- each key once, in the order given
    v_keys := array(select u.k from pg_catalog.unnest(p_test_keys) with ordinality as u (k, o)
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
    insert into public.test_execution_context as c (run_id, organization_id, project_id, running_tests)
    values (v_run.id, v_run.organization_id, v_run.project_id, pg_catalog.to_jsonb(v_keys))
    on conflict (run_id) do update
        set running_tests = (c.running_tests - v_keys) || pg_catalog.to_jsonb(v_keys);
    return v_n;
end;
$$;
comment on function public.tests_started(uuid, text[]) is
    'Broadcast test_started for each key (duplicates once, in order) and add them to the context''s '
    'running_tests; returns the number of events. A finished run gets none (returns 0). Editors+ or '
    'the system.';

-- ---------------------------------------------------------- who may listen
-- A topic is readable by the members (guests included, as for runs and results) of
-- the organisation owning run:<uuid> or project:<uuid>. Anything else, a malformed
-- uuid included, is simply false: a policy must never raise.
create function private.can_listen(p_topic text) returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_org uuid;
begin
    if p_topic is null
       -- exactly as the events are sent: lower case, canonical uuid text
       or p_topic !~ '^(run|project):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        return false;
    end if;
    if pg_catalog.starts_with(p_topic, 'run:') then
        select r.organization_id into v_org from public.test_runs as r
         where r.id = pg_catalog.split_part(p_topic, ':', 2)::uuid;
    else
        select p.organization_id into v_org from public.projects as p
         where p.id = pg_catalog.split_part(p_topic, ':', 2)::uuid;
    end if;
    return v_org is not null and private.is_org_member(v_org, 'guest');
end;
$$;
comment on function private.can_listen(text) is
    'Whether auth.uid() may listen on a Realtime topic: run:<uuid> or project:<uuid> of an '
    'organisation it belongs to (any role). False for anything else, never an error.';

-- The Realtime server authorises a join by setting realtime.topic and the user's
-- role and claims, then reading (or, for sending, inserting) a row of that topic.
create policy "members listen to their runs and projects" on realtime.messages
    for select to authenticated
    using (topic = (select realtime.topic()) and (select private.can_listen(realtime.topic())));
-- Presence (who is watching) is allowed to the same people; broadcast is not: run
-- events come from the database only, so no member can forge one.
create policy "members track presence on their runs and projects" on realtime.messages
    for insert to authenticated
    with check (
        extension = 'presence'
        and topic = (select realtime.topic())
        and (select private.can_listen(realtime.topic()))
    );

-- ------------------------------------------------------------ publication
-- For postgres_changes subscribers. Not test_execution_context: it holds sealed tokens.
do $$
begin
    if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
        create publication supabase_realtime;
    end if;
    if not (select p.puballtables from pg_catalog.pg_publication as p
             where p.pubname = 'supabase_realtime') then
        if not exists (select 1 from pg_catalog.pg_publication_tables
                        where pubname = 'supabase_realtime' and schemaname = 'public'
                          and tablename = 'test_runs') then
            alter publication supabase_realtime add table public.test_runs;
        end if;
        if not exists (select 1 from pg_catalog.pg_publication_tables
                        where pubname = 'supabase_realtime' and schemaname = 'public'
                          and tablename = 'test_results') then
            alter publication supabase_realtime add table public.test_results;
        end if;
    end if;
end
$$;

-- ------------------------------------------------------------------ grants
revoke execute on function public.tests_started(uuid, text[])
    from public, anon, authenticated, service_role;
grant execute on function public.tests_started(uuid, text[]) to authenticated, service_role;

revoke execute on all functions in schema private from public;
-- the realtime.messages policies call it as the listening user
grant execute on function private.can_listen(text) to authenticated, service_role;
