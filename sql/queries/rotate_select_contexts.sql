-- Every run's execution context (sealed tokens, variables, captures), locked for a rotation.
select id, run_id, shared_auth_tokens, shared_variables, captured_data
  from public.test_execution_context order by id for update;
