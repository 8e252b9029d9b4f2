-- A run's execution context, as the context manager decodes it.
select shared_auth_tokens, shared_variables, captured_data, test_order, expires_at, updated_at
  from public.test_execution_context
 where run_id = %(run_id)s
