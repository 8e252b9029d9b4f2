-- One execution context with its sealed values re-sealed under the new key.
update public.test_execution_context
   set shared_auth_tokens = %s, shared_variables = %s, captured_data = %s
 where id = %s;
