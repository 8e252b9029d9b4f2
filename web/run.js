// A run, live: progress, dependency graph, results, a result's detail, the context.
//
// Live updates come from the private topic run:<id> (events documented in
// docs/realtime.md). Every event carries the run's seq: the view applies events in
// order, and re-reads the tables when it sees a gap or the channel comes back after
// being offline (run.event_seq tells which seq the re-read covers).

import { drawGraph } from './graph.js';
import { $, badge, clear, duration, h, pretty, setError, setOffline, when } from './ui.js';

const RESULT_COLUMNS = 'id, test_key, test_case_id, name, row_index, status, error_category, ' +
  'message, status_code, response_time_ms, attempt_count, passed_after_retry, finished_at, created_at';
const SEVERITY = { error: 4, failed: 3, skipped: 2, passed: 1 };

const nodeKey = (testKey) => testKey.replace(/\[\d+\]$/, '');

export async function showRun(app, runId) {
  const client = app.client;
  const view = {
    run: null, nodes: [], edges: [], results: new Map(), running: new Set(),
    context: null, lastSeq: 0, selected: null, reloading: null, again: false,
    updateGraph: null,
  };

  const head = h('div', { class: 'run-head' });
  const progress = h('div', {
    class: 'progress', role: 'progressbar', 'aria-label': 'Run progress',
    'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0,
  });
  const progressText = h('p', { class: 'muted', id: 'progress-text', 'aria-live': 'polite' });
  const graph = h('div', { class: 'graph-wrap', id: 'graph' });
  const resultsBody = h('tbody');
  const detail = h('section', { class: 'panel', id: 'detail', 'aria-labelledby': 'detail-title' },
    h('h2', { id: 'detail-title' }, 'Result detail'),
    h('p', { class: 'muted' }, 'Choose a test in the graph or the results table.'));
  const context = h('section', { class: 'panel', id: 'context', 'aria-labelledby': 'context-title' },
    h('h2', { id: 'context-title' }, 'Execution context'));
  clear($('#main')).append(
    h('section', { class: 'panel', 'aria-labelledby': 'run-title' },
      h('h1', { id: 'run-title' }, 'Run'), head, progress, progressText),
    h('section', { class: 'panel', 'aria-labelledby': 'graph-title' },
      h('h2', { id: 'graph-title' }, 'Dependency graph'), graph,
      h('div', { class: 'legend' }, ...['queued', 'running', 'passed', 'failed', 'error', 'skipped']
        .map((s) => badge(s)))),
    h('div', { class: 'run-layout' },
      h('div', {},
        h('section', { class: 'panel', 'aria-labelledby': 'results-title' },
          h('h2', { id: 'results-title' }, 'Results'),
          h('div', { class: 'table-wrap' }, h('table', { id: 'results' },
            h('thead', {}, h('tr', {}, ...['Test', 'Status', 'Time', 'HTTP', 'Error', 'Attempts']
              .map((t) => h('th', { scope: 'col' }, t)))),
            resultsBody)))),
      h('div', {}, detail, context)));

  // ------------------------------------------------------------------ reading
  async function loadStructure() {
    if (!view.run.suite_id) return;
    const [cases, deps] = await Promise.all([
      client.from('test_cases').select('id, stable_id, name, sort_order, enabled')
        .eq('suite_id', view.run.suite_id).order('sort_order'),
      client.from('test_dependencies').select('test_case_id, depends_on_test_case_id, dependency_type')
        .eq('suite_id', view.run.suite_id),
    ]);
    if (cases.error || !cases.data.length) return; // guests may not read configuration
    const byId = new Map(cases.data.map((c) => [c.id, c.stable_id]));
    view.nodes = cases.data.filter((c) => c.enabled).map((c) => ({ key: c.stable_id, name: c.name }));
    view.edges = (deps.data || []).map((d) => ({
      from: byId.get(d.depends_on_test_case_id), to: byId.get(d.test_case_id), type: d.dependency_type,
    }));
  }

  async function loadContext() {
    const { data } = await client.from('test_execution_context')
      .select('shared_auth_tokens, shared_variables, captured_data, running_tests, test_order')
      .eq('run_id', runId).maybeSingle();
    view.context = data;
    view.running = new Set(data?.running_tests || []);
  }

  // The run row first: its event_seq covers everything the reads after it can see.
  async function reload() {
    const run = await client.from('test_runs').select('*').eq('id', runId).maybeSingle();
    if (run.error) throw new Error(run.error.message);
    if (!run.data) throw new Error('This run does not exist, or you may not see it.');
    const first = view.run === null;
    view.run = run.data;
    const [results] = await Promise.all([
      client.from('test_results').select(RESULT_COLUMNS).eq('run_id', runId).order('created_at'),
      loadContext(),
      first ? loadStructure() : null,
    ]);
    if (results.error) throw new Error(results.error.message);
    view.results = new Map(results.data.map((r) => [r.test_key, r]));
    for (const key of view.results.keys()) view.running.delete(key);
    view.lastSeq = Math.max(view.lastSeq, run.data.event_seq ?? 0);
    if (!view.nodes.length) {
      const keys = [...(view.context?.test_order || []), ...view.results.keys()].map(nodeKey);
      view.nodes = [...new Set(keys)].map((key) => ({ key, name: key }));
    }
    if (first || !view.updateGraph) view.updateGraph = drawGraph(graph, view.nodes, view.edges, select);
    render();
    if (view.selected) showDetail(view.selected);
  }

  // one re-read at a time; a request during one runs another after it (it may have
  // started before what the request is about was committed)
  function reloadSoon() {
    if (view.reloading) {
      view.again = true;
      return view.reloading;
    }
    view.reloading = reload().catch((e) => setError(e.message)).finally(() => {
      view.reloading = null;
      if (view.again) {
        view.again = false;
        reloadSoon();
      }
    });
    return view.reloading;
  }

  // ------------------------------------------------------------------ events
  function onEvent(message) {
    const event = message.payload || {};
    if (event.run_id !== runId || typeof event.seq !== 'number') return;
    if (event.seq <= view.lastSeq) return; // already seen, or covered by a re-read
    if (event.seq > view.lastSeq + 1) { // missed something: the tables know
      reloadSoon();
      return;
    }
    view.lastSeq = event.seq;
    switch (event.type) {
      case 'test_started':
        view.running.add(event.test_key);
        break;
      case 'test_completed':
      case 'test_failed':
      case 'test_skipped':
        view.running.delete(event.test_key);
        view.results.set(event.test_key, { ...event, id: event.result_id });
        if (view.selected === event.test_key) showDetail(event.test_key);
        break;
      case 'context_updated':
        loadContext().then(render);
        break;
      case 'run_started':
      case 'run_completed':
        view.run = { ...view.run, ...pickRun(event) };
        break;
      default:
        break;
    }
    render();
  }

  const channel = client.channel(`run:${runId}`, { config: { private: true } })
    .on('broadcast', { event: '*' }, onEvent)
    .subscribe((status, error) => {
      if (status === 'SUBSCRIBED') {
        setOffline(false);
        document.body.dataset.live = 'true';
        // joined (first time, or back after a drop): events from now on arrive; what
        // was committed before (while offline, or before the join) is re-read
        reloadSoon();
      } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') {
        setOffline(true);
        document.body.dataset.live = 'false';
        if (error) console.warn('run channel:', error.message);
      }
    });
  const goOffline = () => setOffline(true);
  window.addEventListener('offline', goOffline);
  app.stop.push(() => {
    delete document.body.dataset.live;
    client.removeChannel(channel);
    window.removeEventListener('offline', goOffline);
    setOffline(false);
  });

  // ------------------------------------------------------------------ drawing
  function nodeStatuses() {
    const statuses = new Map();
    for (const r of view.results.values()) {
      const key = nodeKey(r.test_key);
      const now = statuses.get(key);
      if (!now || SEVERITY[r.status] > SEVERITY[now]) statuses.set(key, r.status);
    }
    for (const key of view.running) if (!view.results.has(key)) statuses.set(nodeKey(key), 'running');
    return statuses;
  }

  function render() {
    const run = view.run;
    const counts = { passed: 0, failed: 0, error: 0, skipped: 0 };
    for (const r of view.results.values()) counts[r.status] += 1;
    const done = view.results.size;
    const total = Math.max(run.total_tests || 0, done);
    head.replaceChildren(
      badge(run.status),
      h('span', {}, `environment ${run.environment_name || '—'}`),
      h('span', {}, `trigger ${run.trigger}`),
      h('span', {}, `started ${when(run.started_at)}`),
      h('span', {}, `duration ${duration(run.duration_ms)}`),
      h('a', { href: `#/project/${run.project_id}` }, 'All runs'));
    $('#run-title').textContent = `Run of ${run.suite_name || 'a suite'}`;
    progress.replaceChildren(...['passed', 'failed', 'error', 'skipped'].map((s) =>
      h('span', { class: `p-${s}`, style: `width: ${total ? (100 * counts[s]) / total : 0}%` })));
    const percent = total ? Math.round((100 * done) / total) : 0;
    progress.setAttribute('aria-valuenow', percent);
    progress.dataset.done = String(done);
    progressText.textContent = `${done} of ${total} tests done (${percent}%): ` +
      `${counts.passed} passed, ${counts.failed} failed, ${counts.error} errors, ` +
      `${counts.skipped} skipped; ${view.running.size} running`;
    document.body.dataset.lastSeq = String(view.lastSeq);
    view.updateGraph?.(nodeStatuses(), view.selected && nodeKey(view.selected));
    renderResults();
    renderContext();
  }

  // rows are kept by test key and updated in place, so focus survives live updates
  const rows = new Map();
  function renderResults() {
    for (const r of view.results.values()) {
      let row = rows.get(r.test_key);
      if (!row) {
        const button = h('button', { type: 'button', class: 'link' }, r.test_key);
        button.addEventListener('click', () => select(r.test_key));
        row = h('tr', { 'data-test-key': r.test_key }, h('td', {}, button),
          h('td'), h('td'), h('td'), h('td'), h('td'));
        rows.set(r.test_key, row);
        resultsBody.append(row);
      }
      const [, status, time, code, category, attempts] = row.children;
      row.dataset.status = r.status;
      row.classList.toggle('selected', r.test_key === view.selected);
      status.replaceChildren(badge(r.status));
      time.textContent = r.response_time_ms === null || r.response_time_ms === undefined
        ? '—' : `${r.response_time_ms.toFixed(1)} ms`;
      code.textContent = r.status_code ?? '—';
      category.textContent = r.error_category ?? '';
      attempts.textContent = String(r.attempt_count ?? '');
    }
    for (const [key, row] of rows) {
      if (!view.results.has(key)) { row.remove(); rows.delete(key); }
    }
  }

  function renderContext() {
    const ctx = view.context;
    const body = [h('h2', { id: 'context-title' }, 'Execution context')];
    if (!ctx) {
      body.push(h('p', { class: 'muted' }, 'No context yet (or not visible to your role).'));
      context.replaceChildren(...body);
      return;
    }
    const tokens = Object.keys(ctx.shared_auth_tokens || {});
    const variables = Object.entries(ctx.shared_variables || {});
    const captured = Object.entries(ctx.captured_data || {});
    body.push(
      h('div', { class: 'ctx-section', id: 'ctx-tokens' }, h('h3', {}, `Shared tokens (${tokens.length})`),
        tokens.length ? h('ul', {}, ...tokens.map((name) =>
          h('li', { 'data-token': name }, h('code', {}, name), ': ', h('span', { class: 'muted' }, '•••••• (redacted)'))))
          : h('p', { class: 'muted' }, 'none')),
      h('div', { class: 'ctx-section', id: 'ctx-variables' }, h('h3', {}, `Shared variables (${variables.length})`),
        variables.length ? h('dl', { class: 'kv' }, ...variables.flatMap(([k, v]) =>
          [h('dt', {}, k), h('dd', {}, short(v))])) : h('p', { class: 'muted' }, 'none')),
      h('div', { class: 'ctx-section', id: 'ctx-captured' }, h('h3', {}, 'Captured variables'),
        captured.length ? h('dl', { class: 'kv' }, ...captured.flatMap(([test, values]) =>
          Object.entries(values || {}).flatMap(([name, value]) => [
            h('dt', { 'data-captured': `${test}.${name}` }, h('code', {}, name)),
            h('dd', {}, short(value), h('span', { class: 'muted' }, ` — from ${test}`))])))
          : h('p', { class: 'muted' }, 'none')));
    context.replaceChildren(...body);
  }

  // ------------------------------------------------------------------ detail
  function select(key) {
    const match = view.results.has(key) ? key
      : [...view.results.keys()].find((k) => nodeKey(k) === key) || key;
    view.selected = match;
    render();
    showDetail(match);
  }

  async function showDetail(key) {
    const summary = view.results.get(key);
    const title = h('h2', { id: 'detail-title' }, `Result: ${key}`);
    if (!summary) {
      detail.replaceChildren(title, h('p', { class: 'muted' },
        view.running.has(key) ? 'Running…' : 'Not run yet.'));
      return;
    }
    const [row, details] = await Promise.all([
      client.from('test_results')
        .select('message, request_snapshot, response_snapshot, captured, passed_after_retry')
        .eq('id', summary.id).maybeSingle(),
      client.from('test_result_details').select('kind, ordinal, name, passed, expected, actual, message, ' +
        'started_at, duration_ms, status_code, error_category, error')
        .eq('result_id', summary.id).order('ordinal'),
    ]);
    if (view.selected !== key) return;
    const data = row.data || {};
    const checks = (details.data || []).filter((d) => d.kind === 'assertion');
    const attempts = (details.data || []).filter((d) => d.kind === 'attempt');
    detail.replaceChildren(title,
      h('dl', { class: 'kv' },
        h('dt', {}, 'Status'), h('dd', {}, badge(summary.status)),
        h('dt', {}, 'Message'), h('dd', {}, data.message || summary.message || '—'),
        h('dt', {}, 'HTTP status'), h('dd', {}, summary.status_code ?? '—'),
        h('dt', {}, 'Response time'), h('dd', {}, duration(summary.response_time_ms))),
      h('h3', {}, `Checks (${checks.length})`),
      checks.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'checks' },
        h('thead', {}, h('tr', {}, ...['Check', 'Result', 'Expected', 'Actual'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ...checks.map((c) => h('tr', {},
          h('td', {}, c.name), h('td', { class: c.passed ? 'pass' : 'fail' }, c.passed ? 'pass' : 'fail'),
          h('td', {}, short(c.expected)), h('td', {}, short(c.actual)))))))
        : h('p', { class: 'muted' }, 'none'),
      h('h3', {}, `Attempts (${attempts.length})`),
      attempts.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'attempts' },
        h('thead', {}, h('tr', {}, ...['#', 'Started', 'Duration', 'HTTP', 'Error'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ...attempts.map((a) => h('tr', {},
          h('td', {}, String(a.ordinal)), h('td', {}, when(a.started_at)), h('td', {}, duration(a.duration_ms)),
          h('td', {}, a.status_code ?? '—'), h('td', {}, a.error || a.error_category || ''))))))
        : h('p', { class: 'muted' }, 'none'),
      h('h3', {}, 'Request (redacted)'), h('pre', { id: 'request-snapshot', tabindex: 0 }, pretty(data.request_snapshot)),
      h('h3', {}, 'Response (redacted)'), h('pre', { id: 'response-snapshot', tabindex: 0 }, pretty(data.response_snapshot)));
  }

  await reloadSoon();
}

function pickRun(event) {
  const keys = ['status', 'total_tests', 'completed_tests', 'passed_tests', 'failed_tests',
    'errored_tests', 'skipped_tests', 'started_at', 'finished_at', 'duration_ms'];
  return Object.fromEntries(keys.filter((k) => k in event).map((k) => [k, event[k]]));
}

function short(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? '—' : text.length > 120 ? text.slice(0, 119) + '…' : text;
}
