// The dependency graph of a run as inline SVG: one node per test, layered by the
// longest chain of dependencies before it, edges from the test that fed each one.

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 150, NODE_H = 30, GAP_X = 46, GAP_Y = 14, PAD = 10;

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// nodes: [{key, name}] in suite order; edges: [{from, to, type}] (from runs before to)
export function layout(nodes, edges) {
  const before = new Map(nodes.map((n) => [n.key, []]));
  for (const e of edges) if (before.has(e.to) && before.has(e.from)) before.get(e.to).push(e.from);
  const depth = new Map();
  const visiting = new Set();
  const depthOf = (key) => {
    if (depth.has(key)) return depth.get(key);
    if (visiting.has(key)) return 0; // a cycle cannot be planned; draw it flat
    visiting.add(key);
    const d = Math.max(-1, ...before.get(key).map(depthOf)) + 1;
    visiting.delete(key);
    depth.set(key, d);
    return d;
  };
  const layers = [];
  for (const n of nodes) (layers[depthOf(n.key)] ||= []).push(n);
  const place = new Map();
  layers.forEach((layer, x) => layer.forEach((n, y) => place.set(n.key, { x, y })));
  const rows = Math.max(1, ...layers.map((l) => l.length));
  return {
    place,
    width: PAD * 2 + layers.length * NODE_W + Math.max(0, layers.length - 1) * GAP_X,
    height: PAD * 2 + rows * NODE_H + (rows - 1) * GAP_Y,
  };
}

function position(p) {
  return { x: PAD + p.x * (NODE_W + GAP_X), y: PAD + p.y * (NODE_H + GAP_Y) };
}

function truncate(text, n) {
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}

// Draws the graph into `container`; returns update(statusByKey) to recolour nodes.
export function drawGraph(container, nodes, edges, onSelect) {
  const { place, width, height } = layout(nodes, edges);
  const svg = el('svg', {
    class: 'graph', viewBox: `0 0 ${width} ${height}`, width, height,
    role: 'group', 'aria-label': 'Dependency graph: each test, coloured by status',
  });
  // shrinks to fit a laptop screen, but not below legibility: then it scrolls
  svg.style.maxWidth = '100%';
  svg.style.height = 'auto';
  svg.style.minWidth = `${Math.min(width, 720)}px`;
  const defs = el('defs');
  const marker = el('marker', {
    id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse',
  });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8c959f' }));
  defs.append(marker);
  svg.append(defs);
  for (const e of edges) {
    const a = place.get(e.from), b = place.get(e.to);
    if (!a || !b) continue;
    const p = position(a), q = position(b);
    const x1 = p.x + NODE_W, y1 = p.y + NODE_H / 2, x2 = q.x, y2 = q.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    const edge = el('path', {
      class: `edge ${e.type || 'order'}`, 'marker-end': 'url(#arrow)',
      d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`,
      'data-from': e.from, 'data-to': e.to,
    });
    edge.append(el('title', {}, `${e.to} uses ${e.from} (${e.type || 'order'})`));
    svg.append(edge);
  }
  const groups = new Map();
  for (const n of nodes) {
    const p = position(place.get(n.key));
    const g = el('g', {
      class: 'node', tabindex: 0, role: 'button', 'data-test-key': n.key,
      'data-status': 'queued', transform: `translate(${p.x} ${p.y})`,
    });
    const rect = el('rect', { width: NODE_W, height: NODE_H, rx: 6, class: 's-queued' });
    rect.style.fill = 'var(--queued)';
    const title = el('title', {}, '');
    g.append(rect, el('text', { x: 8, y: 19 }, truncate(n.key, 20)), title);
    const select = () => onSelect(n.key);
    g.addEventListener('click', select);
    g.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); select(); }
    });
    groups.set(n.key, { g, rect, title, name: n.name });
    svg.append(g);
  }
  container.replaceChildren(svg);

  return (statusByKey, selectedKey) => {
    for (const [key, { g, rect, title, name }] of groups) {
      const status = statusByKey.get(key) || 'queued';
      if (g.getAttribute('data-status') !== status) {
        g.setAttribute('data-status', status);
        rect.style.fill = `var(--${status})`;
      }
      g.classList.toggle('selected', key === selectedKey);
      g.setAttribute('aria-label', `${key}: ${status}`);
      title.textContent = `${name} — ${status}`;
    }
  };
}
