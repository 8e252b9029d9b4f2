// Trend charts as inline SVG: p95 and p99 response time per test over days, and the
// success rate, from performance_metrics rows.

const SVG = 'http://www.w3.org/2000/svg';
const W = 360, H = 190, L = 46, R = 40, T = 12, B = 28;

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

// rows: [{metric_date, p95_response_ms, p99_response_ms, success_rate}] of one test, by date
export function trendChart(title, rows) {
  const days = rows.map((r) => r.metric_date);
  const maxMs = niceMax(Math.max(0, ...rows.flatMap((r) => [r.p95_response_ms ?? 0, r.p99_response_ms ?? 0])));
  const x = (i) => L + (days.length <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (days.length - 1));
  const yMs = (v) => T + (H - T - B) * (1 - v / maxMs);
  const yRate = (v) => T + (H - T - B) * (1 - v);
  const svg = el('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `${title}: p95 and p99 response time (ms) and success rate over ${days.length} day(s)`,
  });
  svg.append(el('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }));
  svg.append(el('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
  svg.append(el('line', { class: 'axis', x1: W - R, y1: T, x2: W - R, y2: H - B }));
  svg.append(el('text', { x: L - 4, y: T + 8, 'text-anchor': 'end' }, `${maxMs}`));
  svg.append(el('text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, '0 ms'));
  svg.append(el('text', { x: W - R + 4, y: T + 8 }, '100%'));
  svg.append(el('text', { x: W - R + 4, y: H - B }, '0%'));
  if (days.length) {
    svg.append(el('text', { x: L, y: H - 8 }, days[0]));
    if (days.length > 1) svg.append(el('text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, days.at(-1)));
  }
  const series = [
    ['p95', (r) => r.p95_response_ms, yMs],
    ['p99', (r) => r.p99_response_ms, yMs],
    ['rate', (r) => r.success_rate, yRate],
  ];
  for (const [name, value, y] of series) {
    const points = rows
      .map((r, i) => [i, value(r)])
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([i, v]) => [x(i), y(v)]);
    if (!points.length) continue;
    svg.append(el('polyline', { class: name, points: points.map((p) => p.join(',')).join(' ') }));
    for (const [px, py] of points) {
      svg.append(el('circle', { cx: px, cy: py, r: 2.5, class: name, fill: 'currentColor' }));
    }
  }
  return svg;
}
