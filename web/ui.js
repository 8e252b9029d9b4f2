// Small DOM helpers shared by the views.

export const $ = (selector) => document.querySelector(selector);

// h('tag', {attr: value}, ...children): null/false children and attributes are skipped
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function badge(status) {
  return h('span', { class: `badge s-${status}` }, status);
}

export function when(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function setError(message) {
  const banner = $('#error');
  banner.hidden = !message;
  banner.textContent = message || '';
}

export function setOffline(offline) {
  $('#offline').hidden = !offline;
  document.body.dataset.offline = offline ? 'true' : 'false';
}

// JSON for display: long strings shortened, already redacted by the runner
export function pretty(value) {
  if (value === null || value === undefined) return '—';
  return JSON.stringify(value, (key, v) =>
    typeof v === 'string' && v.length > 2000 ? v.slice(0, 2000) + '…' : v, 2);
}
