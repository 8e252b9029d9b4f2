-- Every batch refreshed its metrics groups: finishing need not (0022).
select set_config('runner.metrics_current', 'on', true);
