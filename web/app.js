// The web UI: sign in, organisations and projects, runs (live), a run (live), trends.
// Talks to Supabase (hosted, or `python -m runner serve`) through supabase-js only;
// the URL and anon key come from config.json. RLS decides what a user sees.

import { trendChart } from './charts.js';
import { showRun } from './run.js';
import { $, badge, clear, duration, h, setError, setOffline, when } from './ui.js';

const state = { client: null, user: null, orgs: [], projects: [], stop: [] };

async function loadConfig() {
  const response = await fetch('config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = await response.json();
  if (!config.supabaseUrl || !config.anonKey) throw new Error('config.json needs supabaseUrl and anonKey');
  return config;
}

// views register cleanups (channels, timers) here; the next route runs them
function stopView() {
  for (const stop of state.stop.splice(0)) {
    try { stop(); } catch (error) { console.warn(error); }
  }
}

function signInView() {
  const email = h('input', { id: 'email', type: 'email', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const message = h('p', { class: 'fail', role: 'alert' });
  const form = h('form', { class: 'panel signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('label', { for: 'email' }, 'Email'), email,
    h('label', { for: 'password' }, 'Password'), password,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'), message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    const { error } = await state.client.auth.signInWithPassword({
      email: email.value.trim(), password: password.value,
    });
    if (error) message.textContent = error.message;
  });
  clear($('#main')).append(form);
  email.focus();
}

async function loadOrgs() {
  const [orgs, projects] = await Promise.all([
    state.client.from('organizations').select('id, name, slug').order('name'),
    state.client.from('projects').select('id, name, slug, organization_id').order('name'),
  ]);
  if (orgs.error) throw new Error(orgs.error.message);
  if (projects.error) throw new Error(projects.error.message);
  state.orgs = orgs.data;
  state.projects = projects.data;
}

function sidebar(currentProject) {
  const nav = h('nav', { class: 'panel orgs', 'aria-label': 'Organisations and projects' });
  if (!state.orgs.length) {
    nav.append(h('p', { class: 'muted' }, 'You belong to no organisation yet.'));
  }
  for (const org of state.orgs) {
    const projects = state.projects.filter((p) => p.organization_id === org.id);
    nav.append(h('h2', {}, org.name), h('ul', {}, ...projects.map((p) => h('li', {},
      h('a', {
        href: `#/project/${p.id}`, 'data-project': p.slug,
        'aria-current': p.id === currentProject ? 'page' : null,
      }, p.name)))));
    if (!projects.length) nav.append(h('p', { class: 'muted' }, 'No projects.'));
  }
  return nav;
}

const RUN_COLUMNS = 'id, suite_name, environment_name, status, trigger, total_tests, ' +
  'completed_tests, passed_tests, failed_tests, errored_tests, skipped_tests, started_at, duration_ms';

async function projectView(projectId) {
  const n = state.route;
  await loadOrgs();
  if (n !== state.route) return;
  const project = state.projects.find((p) => p.id === projectId);
  const body = h('tbody');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const section = h('section', { class: 'panel', 'aria-labelledby': 'runs-title' },
    h('div', { class: 'tabs' },
      h('h1', { id: 'runs-title' }, project ? `${project.name}: runs` : 'Runs'),
      project && h('a', { href: `#/trends/${projectId}` }, 'Trends')),
    status,
    h('div', { class: 'table-wrap' }, h('table', { id: 'runs' },
      h('caption', { class: 'skip' }, 'Runs, newest first'),
      h('thead', {}, h('tr', {}, ...['Started', 'Suite', 'Status', 'Environment', 'Trigger',
        'Passed', 'Failed', 'Errors', 'Skipped', 'Done', 'Duration'].map((t) => h('th', { scope: 'col' }, t)))),
      body)));
  clear($('#main')).append(h('div', { class: 'layout' }, sidebar(projectId), section));
  if (!project) {
    status.textContent = 'Choose a project.';
    return;
  }
  const refresh = async () => {
    const { data, error } = await state.client.from('test_runs').select(RUN_COLUMNS)
      .eq('project_id', projectId).order('started_at', { ascending: false }).limit(50);
    if (error) return setError(error.message);
    status.textContent = data.length ? '' : 'No runs yet: they appear here as they start.';
    body.replaceChildren(...data.map((run) => h('tr', { 'data-run': run.id },
      h('td', {}, h('a', { href: `#/run/${run.id}` }, when(run.started_at))),
      h('td', {}, run.suite_name || '—'),
      h('td', {}, badge(run.status)),
      h('td', {}, run.environment_name || '—'),
      h('td', {}, run.trigger),
      h('td', {}, String(run.passed_tests)), h('td', {}, String(run.failed_tests)),
      h('td', {}, String(run.errored_tests)), h('td', {}, String(run.skipped_tests)),
      h('td', {}, `${run.completed_tests}/${run.total_tests}`),
      h('td', {}, duration(run.duration_ms)))));
  };
  // live: row changes of the project's runs (RLS filters them) and the project topic
  let pending = null;
  const soon = () => { clearTimeout(pending); pending = setTimeout(refresh, 150); };
  const changes = state.client.channel(`runs-${projectId}`)
    .on('postgres_changes', {
      event: '*', schema: 'public', table: 'test_runs', filter: `project_id=eq.${projectId}`,
    }, soon)
    .subscribe((s) => {
      setOffline(s !== 'SUBSCRIBED' && s !== 'CLOSED');
      if (s === 'SUBSCRIBED') soon(); // joined (again): re-read what may have been missed
    });
  const topic = state.client.channel(`project:${projectId}`, { config: { private: true } })
    .on('broadcast', { event: '*' }, soon)
    .subscribe();
  state.stop.push(() => {
    clearTimeout(pending);
    state.client.removeChannel(changes);
    state.client.removeChannel(topic);
    setOffline(false);
  });
  await refresh();
}

async function homeView() {
  const n = state.route;
  await loadOrgs();
  if (n !== state.route) return;
  // one project: open it, unless the user went somewhere else meanwhile
  if (state.projects.length === 1 && ['', '#', '#/'].includes(location.hash)) {
    location.replace(`#/project/${state.projects[0].id}`);
    return;
  }
  clear($('#main')).append(h('div', { class: 'layout' }, sidebar(null),
    h('section', { class: 'panel' }, h('h1', {}, 'Runs'),
      h('p', { class: 'muted' }, 'Choose a project to see its runs.'))));
}

async function trendsView(projectId) {
  const n = state.route;
  await loadOrgs();
  const project = state.projects.find((p) => p.id === projectId);
  const since = new Date(Date.now() - 30 * 86400_000).toISOString().slice(0, 10);
  const [metrics, cases, envs] = await Promise.all([
    state.client.from('performance_metrics')
      .select('test_case_id, environment_id, metric_date, p95_response_ms, p99_response_ms, success_rate, total_runs')
      .eq('project_id', projectId).gte('metric_date', since).order('metric_date'),
    state.client.from('test_cases').select('id, stable_id, name, sort_order')
      .eq('project_id', projectId).order('sort_order'),
    state.client.from('environments').select('id, name').eq('project_id', projectId),
  ]);
  if (n !== state.route) return;
  if (metrics.error) return setError(metrics.error.message);
  const names = new Map((cases.data || []).map((c) => [c.id, c.stable_id]));
  const order = new Map((cases.data || []).map((c, i) => [c.id, i]));
  const envNames = new Map((envs.data || []).map((e) => [e.id, e.name]));
  // one chart per test and environment (an environment's days are one series)
  const environments = new Set(metrics.data.map((r) => r.environment_id));
  const series = new Map();
  for (const row of metrics.data) {
    const key = `${row.test_case_id}|${row.environment_id}`;
    if (!series.has(key)) series.set(key, []);
    series.get(key).push(row);
  }
  const charts = [...series.values()]
    .sort((a, b) => (order.get(a[0].test_case_id) ?? 1e9) - (order.get(b[0].test_case_id) ?? 1e9))
    .map((rows) => {
      const name = names.get(rows[0].test_case_id) || rows[0].test_case_id;
      const title = environments.size > 1
        ? `${name} · ${envNames.get(rows[0].environment_id) || 'no stored environment'}` : name;
      const last = rows.at(-1);
      return h('figure', { class: 'panel', 'data-test': name },
        h('h2', {}, title), trendChart(title, rows),
        h('figcaption', { class: 'muted' },
          `last day: p95 ${last.p95_response_ms?.toFixed(1) ?? '—'} ms, ` +
          `p99 ${last.p99_response_ms?.toFixed(1) ?? '—'} ms, ` +
          `success ${last.success_rate === null ? '—' : Math.round(last.success_rate * 100) + '%'}`));
    });
  clear($('#main')).append(h('div', { class: 'layout' }, sidebar(projectId),
    h('section', { 'aria-labelledby': 'trends-title' },
      h('div', { class: 'tabs' },
        h('h1', { id: 'trends-title' }, `${project ? project.name : 'Project'}: trends (30 days)`),
        h('a', { href: `#/project/${projectId}` }, 'Runs')),
      h('p', {}, h('span', { class: 'key', style: 'background: var(--running)' }), 'p95 (ms)',
        h('span', { class: 'key', style: 'background: var(--failed)' }), 'p99 (ms)',
        h('span', { class: 'key', style: 'background: var(--passed)' }), 'success rate'),
      charts.length ? h('div', { class: 'charts', id: 'charts' }, ...charts)
        : h('p', { class: 'muted' }, 'No metrics yet: they are computed as results are recorded.'))));
}

// a route left behind by a newer one stops drawing (views check state.current)
async function route() {
  state.route = (state.route || 0) + 1;
  stopView();
  setError(null);
  if (!state.user) return signInView();
  const [, view, id] = location.hash.split('/');
  try {
    if (view === 'project' && id) await projectView(id);
    else if (view === 'run' && id) await showRun(state, id);
    else if (view === 'trends' && id) await trendsView(id);
    else await homeView();
  } catch (error) {
    setError(error.message || String(error));
  }
}

async function main() {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    setError(`Cannot start: ${error.message}`);
    return;
  }
  state.client = window.supabase.createClient(config.supabaseUrl, config.anonKey);
  const { data } = await state.client.auth.getSession();
  state.user = data.session?.user ?? null;
  state.client.auth.onAuthStateChange((event, session) => {
    const before = state.user?.id;
    state.user = session?.user ?? null;
    $('#account').hidden = !state.user;
    $('#who').textContent = state.user?.email ?? '';
    if (before !== state.user?.id) route();
  });
  $('#account').hidden = !state.user;
  $('#who').textContent = state.user?.email ?? '';
  $('#sign-out').addEventListener('click', () => state.client.auth.signOut());
  window.addEventListener('hashchange', route);
  window.runnerUi = state; // for debugging in the console
  await route();
  document.body.dataset.ready = 'true';
}

main();
