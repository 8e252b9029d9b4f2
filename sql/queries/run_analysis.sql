-- A run's regressions, newly flaky tests and quarantined failures as JSON (0024), as the
-- caller may see them; the same function a store calls (Store.run_analysis).
select public.run_analysis(%s);
