/* app.js: the ugcflow graph page. Polls /api/graph every second and draws each pipeline as a
 * left-to-right SVG graph (columns by topological depth, sinks in the last column), updating
 * numbers in place; the layout is rebuilt only when the graph itself changes. Clicking a node
 * opens a panel with its options (secrets arrive masked as "***") and sparklines of its last
 * five minutes from /api/history. Rates and trouble reasons are computed by the server
 * (viz/history.c), so a freshly opened page is complete on its first poll. No dependencies. */
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const NODE_W = 204, NODE_H = 110, COL_GAP = 66, ROW_GAP = 26, PAD = 14;
const state = { sig: null, graph: null, nodes: new Map(), edges: [], selected: null, timer: null };

function el(tag, attrs, parent, text) {
  const e = tag === 'div' || tag === 'span' || tag === 'tr' || tag === 'td' || tag === 'li' ||
    tag === 'section' || tag === 'h2'
    ? document.createElement(tag) : document.createElementNS(SVGNS, tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function fmtNum(v) {
  if (!v) return '0';
  if (v < 10) return v.toFixed(1);
  if (v < 1000) return String(Math.round(v));
  if (v < 1e6) return (v / 1e3).toFixed(v < 1e4 ? 1 : 0) + 'k';
  return (v / 1e6).toFixed(1) + 'M';
}
const fmtRate = (v) => fmtNum(v) + '/s';
function fmtUs(us) {
  if (!us) return '–';
  if (us < 1000) return Math.round(us) + ' µs';
  if (us < 1e6) return (us / 1000).toFixed(1) + ' ms';
  return (us / 1e6).toFixed(2) + ' s';
}
const fmtPct = (f) => Math.round((f || 0) * 100) + '%';

function rates(n) {
  return n.rates || { in: 0, out: 0, errors: 0, retries: 0, dropped: 0, queue_fill: 0, p99_us: 0,
    batch_avg: 0, flush_avg_us: 0, extra: {} };
}

/* ---- layout ---- */

function layout(p) {
  const preds = new Map(), depth = new Map(), index = new Map();
  p.nodes.forEach((n, i) => { preds.set(n.id, []); index.set(n.id, i); });
  p.edges.forEach((e) => preds.get(e.to) && preds.get(e.to).push(e.from));
  let maxDepth = 0;
  for (const n of p.nodes) { /* nodes arrive in topological order */
    const d = preds.get(n.id).reduce((m, f) => Math.max(m, (depth.get(f) || 0) + 1), 0);
    depth.set(n.id, d);
    maxDepth = Math.max(maxDepth, d);
  }
  for (const n of p.nodes) if (n.role === 'sink') depth.set(n.id, Math.max(maxDepth, 1));
  const cols = [];
  for (const n of p.nodes) (cols[depth.get(n.id)] = cols[depth.get(n.id)] || []).push(n);
  const row = new Map();
  cols.forEach((col) => {
    if (!col) return;
    const bary = (n) => {
      const ps = preds.get(n.id);
      return ps.length ? ps.reduce((s, f) => s + (row.get(f) || 0), 0) / ps.length : index.get(n.id);
    };
    col.sort((a, b) => bary(a) - bary(b) || index.get(a.id) - index.get(b.id));
    col.forEach((n, i) => row.set(n.id, i));
  });
  const tallest = Math.max(...cols.filter(Boolean).map((c) => c.length));
  const pos = new Map();
  cols.forEach((col, c) => {
    if (!col) return;
    const off = (tallest - col.length) * (NODE_H + ROW_GAP) / 2;
    col.forEach((n, r) => pos.set(n.id, { x: PAD + c * (NODE_W + COL_GAP),
      y: PAD + off + r * (NODE_H + ROW_GAP) }));
  });
  const ncols = cols.length;
  return { pos, width: 2 * PAD + ncols * NODE_W + (ncols - 1) * COL_GAP,
    height: 2 * PAD + tallest * NODE_H + (tallest - 1) * ROW_GAP };
}

/* ---- drawing ---- */

function bandPath(w) {
  return `M0,7 a7,7 0 0 1 7,-7 h${w - 14} a7,7 0 0 1 7,7 v17 h${-w} z`;
}

function metricLine(g, y, parts) {
  const t = el('text', { x: 10, y }, g);
  const cells = {};
  parts.forEach(([label, key], i) => {
    el('tspan', { class: 'label', x: 10 + i * 100 }, t, label + ' ');
    cells[key] = el('tspan', { class: 'v-' + key }, t);
  });
  return cells;
}

function drawNode(svg, n, p) {
  const g = el('g', { class: `node ${n.role}`, 'data-id': n.id,
    transform: `translate(${p.x},${p.y})` }, svg);
  const hover = el('title', {}, g);
  el('rect', { class: 'box', width: NODE_W, height: NODE_H }, g);
  el('path', { class: `band ${n.role}`, d: bandPath(NODE_W) }, g);
  el('text', { class: 'title', x: 10, y: 16 }, g, n.name.length > 20 ? n.name.slice(0, 19) + '…' : n.name);
  el('text', { class: 'kind', x: NODE_W - 10, y: 16, 'text-anchor': 'end' }, g, n.kind);
  const cells = Object.assign(
    metricLine(g, 42, [['in', 'in'], ['out', 'out']]),
    metricLine(g, 59, [['errors', 'errors'], ['p99', 'p99']]));
  const extraLine = el('text', { x: 10, y: 76 }, g);
  el('rect', { class: 'qbar-bg', x: 10, y: 88, width: NODE_W - 96, height: 7, rx: 3 }, g);
  const qbar = el('rect', { class: 'qbar', x: 10, y: 88, width: 0, height: 7, rx: 3 }, g);
  const qtext = el('text', { class: 'label', x: NODE_W - 10, y: 95, 'text-anchor': 'end' }, g);
  const badge = el('g', { class: 'badge', transform: `translate(${NODE_W - 2},2)` }, g);
  el('circle', { r: 10 }, badge);
  el('text', { 'text-anchor': 'middle', y: 4.5 }, badge, '!');
  const why = el('text', { class: 'why', x: 2, y: NODE_H + 14 }, g);
  g.addEventListener('click', () => select(n.id));
  return { g, hover, cells, extraLine, qbar, qtext, badge, why, node: n };
}

function extraText(n, r) {
  if (n.role === 'sink')
    return [['batch', fmtNum(r.batch_avg)], ['flush', fmtUs(r.flush_avg_us)]];
  const ex = r.extra || {};
  const lag = Object.keys(ex).filter((k) => k.includes('consumer_lag'));
  if (lag.length) return [['lag', fmtNum(lag.reduce((s, k) => s + ex[k], 0))]];
  /* Otherwise the kind's first extra, spools first: that is what an operator watches. The
   * panel's sparklines show them all. */
  const rank = (k) => (k.includes('spool') ? 0 : 1);
  const key = Object.keys(ex).sort((a, b) => rank(a) - rank(b))[0];
  if (key) return [[key.replace(/_total$/, '/s').slice(0, 26), fmtNum(ex[key])]];
  if (n.role === 'transform') return [['dropped', fmtRate(r.dropped)]];
  return [['retries', fmtRate(r.retries)]];
}

function updateNode(v, n) {
  const r = rates(n), m = n.metrics || {};
  v.node = n;
  v.g.dataset.in = r.in;
  v.g.dataset.out = r.out;
  v.g.dataset.totalOut = m.out || 0;
  v.cells.in.textContent = n.role === 'source' ? '—' : fmtRate(r.in);
  v.cells.out.textContent = fmtRate(r.out);
  v.cells.errors.textContent = fmtRate(r.errors);
  v.cells.errors.setAttribute('class', 'v-errors' + (r.errors > 0 ? ' bad' : ''));
  v.cells.p99.textContent = fmtUs(r.p99_us);
  v.extraLine.textContent = '';
  const parts = extraText(n, r);
  parts.forEach(([label, val], i) => {
    el('tspan', { class: 'label', x: parts.length > 1 ? 10 + i * 100 : 10 }, v.extraLine, label + ' ');
    el('tspan', {}, v.extraLine, val);
  });
  const cap = m.queue_capacity || 0, fill = cap ? (m.queue_depth || 0) / cap : 0;
  v.qbar.setAttribute('width', Math.max(0, Math.min(1, fill)) * (NODE_W - 96));
  v.qbar.setAttribute('class', 'qbar' + (fill >= 0.8 ? ' warn' : ''));
  v.qtext.textContent = cap ? 'queue ' + fmtPct(fill) : 'inline';
  const trouble = n.trouble || [];
  v.g.classList.toggle('trouble', trouble.length > 0);
  v.badge.style.display = trouble.length ? '' : 'none';
  /* The first reason under the node, cut to its width; the hover title has them all. */
  const more = trouble.length > 1 ? ` +${trouble.length - 1}` : '', first = trouble[0] || '';
  v.why.textContent = first.length + more.length > 36 ? first.slice(0, 35 - more.length) + '…' + more : first + more;
  v.hover.textContent = `${n.id} (${n.kind})` + (trouble.length ? '\n⚠ ' + trouble.join('\n⚠ ') : '');
}

function edgeWidth(rate) {
  return Math.min(14, 1.2 + 2.2 * Math.log10(1 + rate));
}

function drawEdge(svg, e, a, b) {
  const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2, dx = (x2 - x1) / 2;
  const path = el('path', { class: 'edge', d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`,
    'data-from': e.from, 'data-to': e.to }, svg);
  const title = el('title', {}, path);
  /* Port names sit by the consumer, on the side of the line away from where it comes from. */
  if (e.port) el('text', { class: 'edge-label', x: x2 - 8, y: y2 > y1 ? y2 + 15 : y2 - 8,
    'text-anchor': 'end' }, svg, e.port);
  return { path, title, e };
}

function edgeRate(e, p) {
  const to = state.nodes.get(e.to), from = state.nodes.get(e.from);
  const fanIn = p.edges.filter((x) => x.to === e.to).length;
  if (to && fanIn === 1) return rates(to.node).in;
  const fanOut = p.edges.filter((x) => x.from === e.from).length || 1;
  return from ? rates(from.node).out / fanOut : 0;
}

function signature(g) {
  return JSON.stringify(g.pipelines.map((p) => [p.name, p.nodes.map((n) => n.id + ':' + n.kind),
    p.edges.map((e) => e.from + '>' + e.to + '.' + e.port)]));
}

function build(g) {
  const root = document.getElementById('pipelines');
  root.textContent = '';
  state.nodes.clear();
  state.edges = [];
  for (const p of g.pipelines) {
    const sec = el('section', { class: 'pipeline', 'data-pipeline': p.name }, root);
    const h = el('h2', {}, sec, 'pipeline ' + p.name + ' ');
    el('span', { class: 'muted' }, h, `${p.nodes.length} components`);
    const lay = layout(p);
    const svg = el('svg', { class: 'graph', viewBox: `0 0 ${lay.width} ${lay.height}`,
      width: lay.width, height: lay.height }, sec);
    const edgeLayer = el('g', {}, svg), nodeLayer = el('g', {}, svg);
    for (const e of p.edges)
      state.edges.push(Object.assign(drawEdge(edgeLayer, e, lay.pos.get(e.from), lay.pos.get(e.to)), { p }));
    for (const n of p.nodes) state.nodes.set(n.id, drawNode(nodeLayer, n, lay.pos.get(n.id)));
  }
}

function render(g) {
  document.getElementById('file').textContent = g.file || '';
  const sig = signature(g);
  if (sig !== state.sig) { build(g); state.sig = sig; }
  state.graph = g;
  for (const p of g.pipelines) for (const n of p.nodes) updateNode(state.nodes.get(n.id), n);
  for (const v of state.edges) {
    const r = edgeRate(v.e, v.p);
    v.path.setAttribute('stroke-width', edgeWidth(r).toFixed(2));
    v.path.classList.toggle('flowing', r > 0);
    v.title.textContent = `${v.e.from} → ${v.e.to}${v.e.port ? ' (' + v.e.port + ')' : ''}: ${fmtRate(r)}`;
  }
  for (const [id, v] of state.nodes) v.g.classList.toggle('selected', id === state.selected);
}

/* ---- the side panel ---- */

function select(id) {
  state.selected = id;
  document.getElementById('panel').hidden = !id;
  if (state.graph) render(state.graph);
  if (id) { panelInfo(); refreshPanel(); }
}

function panelInfo() {
  const v = state.nodes.get(state.selected);
  if (!v) return;
  const n = v.node;
  document.getElementById('p-name').textContent = n.id;
  document.getElementById('p-sub').textContent = `${n.role} · kind ${n.kind} · ${n.where}`;
  const ul = document.getElementById('p-trouble');
  ul.textContent = '';
  for (const why of n.trouble || []) el('li', {}, ul, why);
  const table = document.getElementById('p-options');
  table.textContent = '';
  for (const [k, val] of Object.entries(n.options || {})) {
    const tr = el('tr', {}, table);
    el('td', {}, tr, k);
    el('td', {}, tr, typeof val === 'string' ? val : JSON.stringify(val));
  }
}

function spark(parent, name, values, fmt, bad) {
  const row = el('div', { class: 'spark' + (bad ? ' bad' : '') }, parent);
  el('span', { class: 'name' }, row, name);
  const w = 200, h = 26, max = Math.max(...values, 1e-9), n = values.length;
  const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: 'none' }, row);
  const pts = values.map((v, i) => `${n > 1 ? (i * w / (n - 1)).toFixed(1) : 0},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`);
  if (n) {
    el('polygon', { points: `0,${h} ${pts.join(' ')} ${w},${h}` }, svg);
    el('polyline', { points: pts.join(' ') }, svg);
  }
  el('span', { class: 'now' }, row, n ? fmt(values[n - 1]) : '–');
}

async function refreshPanel() {
  const id = state.selected;
  if (!id) return;
  try {
    const res = await fetch('/api/history?component=' + encodeURIComponent(id), { cache: 'no-store' });
    const h = (await res.json()).components[id];
    if (!h || state.selected !== id) return;
    const box = document.getElementById('p-sparks');
    box.textContent = '';
    const role = state.nodes.get(id).node.role;
    if (role !== 'source') spark(box, 'in /s', h.in, fmtRate);
    spark(box, 'out /s', h.out, fmtRate);
    spark(box, 'errors /s', h.errors, fmtRate, h.errors.some((x) => x > 0));
    spark(box, 'retries /s', h.retries, fmtRate, h.retries.some((x) => x > 0));
    if (role === 'transform') spark(box, 'dropped /s', h.dropped, fmtRate);
    spark(box, 'queue fill', h.queue_fill, fmtPct, h.queue_fill.some((x) => x >= 0.8));
    spark(box, 'p99 latency', h.p99_us, fmtUs);
    if (role === 'sink') {
      spark(box, 'batch size', h.batch_avg, fmtNum);
      spark(box, 'flush time', h.flush_avg_us, fmtUs);
    }
    for (const [k, vals] of Object.entries(h.extra || {}))
      spark(box, k, vals, fmtNum, k.includes('spool') && vals.some((x) => x > 0));
  } catch (err) { /* the next poll retries */ }
}

/* ---- polling ---- */

async function poll() {
  const status = document.getElementById('status');
  try {
    const res = await fetch('/api/graph', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
    status.className = 'status live';
    status.textContent = 'live · ' + new Date().toLocaleTimeString();
    if (state.selected) { panelInfo(); refreshPanel(); }
  } catch (err) {
    status.className = 'status stale';
    status.textContent = 'disconnected (' + err.message + '), retrying';
  }
  state.timer = setTimeout(poll, 1000);
}

document.getElementById('close').addEventListener('click', () => select(null));
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') select(null); });
poll();
