/* deploy.js: the ugcflow deployment page. Polls /api/deployment every second and draws one
 * graph: each process as a group of its components, Kafka topics and stores as hubs between
 * them. Places and edge routes come from the server (Graphviz, computed once per file), in two
 * directions; the page takes the one that fits its window best, fits it, and lets the user zoom
 * (wheel) and pan (drag). Boxes are built once and only their text changes afterwards, so
 * nothing moves between refreshes. Labels and formatted values come from the server
 * (viz/labels.c) too: the page never shows a raw metric name. No dependencies. */
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const PAD = 16;
const st = { layout: null, dir: null, nodes: new Map(), groups: new Map(), edges: [],
  view: { s: 1, x: 0, y: 0 }, data: null, selected: null, built: false };

function el(tag, attrs, parent, text) {
  const html = ['div', 'span', 'tr', 'td', 'li', 'b', 'a'].includes(tag);
  const e = html ? document.createElement(tag) : document.createElementNS(SVGNS, tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function fmtNum(v) {
  if (!v || v < 0) return '0';
  if (v < 10) return v.toFixed(1);
  if (v < 1000) return String(Math.round(v));
  if (v < 1e6) return (v / 1e3).toFixed(v < 1e4 ? 1 : 0) + 'k';
  return (v / 1e6).toFixed(1) + 'M';
}
const fmtRate = (v) => fmtNum(v) + '/s';
const cut = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/* ---- fitting, zoom and pan ---- */

function stageSize() {
  const r = document.getElementById('stage').getBoundingClientRect();
  return { w: r.width, h: r.height };
}

function fitScale(l) {
  const { w, h } = stageSize();
  return Math.min((w - 2 * PAD) / l.width, (h - 2 * PAD) / l.height);
}

/* The direction whose fit is largest: left to right for wide windows, top to bottom else. */
function pickDirection(layouts) {
  return ['TB', 'LR'].reduce((best, d) =>
    (!best || fitScale(layouts[d]) > fitScale(layouts[best]) ? d : best), null);
}

function applyView() {
  const v = st.view;
  document.getElementById('viewport').setAttribute('transform', `translate(${v.x},${v.y}) scale(${v.s})`);
}

function fit() {
  const l = st.layout, { w, h } = stageSize(), s = Math.min(fitScale(l), 1.6);
  st.view = { s, x: (w - l.width * s) / 2, y: (h - l.height * s) / 2 };
  applyView();
}

function zoomAt(cx, cy, factor) {
  const v = st.view, s = Math.max(0.2, Math.min(4, v.s * factor));
  v.x = cx - (cx - v.x) * (s / v.s);
  v.y = cy - (cy - v.y) * (s / v.s);
  v.s = s;
  applyView();
}

function enablePanZoom() {
  const svg = document.getElementById('canvas');
  svg.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = svg.getBoundingClientRect();
    zoomAt(e.clientX - r.left, e.clientY - r.top, e.deltaY < 0 ? 1.15 : 1 / 1.15);
  }, { passive: false });
  let drag = null;
  svg.addEventListener('mousedown', (e) => {
    drag = { x: e.clientX, y: e.clientY, vx: st.view.x, vy: st.view.y, moved: false };
    svg.classList.add('panning');
  });
  window.addEventListener('mousemove', (e) => {
    if (!drag) return;
    st.view.x = drag.vx + e.clientX - drag.x;
    st.view.y = drag.vy + e.clientY - drag.y;
    drag.moved = drag.moved || Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3;
    applyView();
  });
  window.addEventListener('mouseup', () => {
    svg.classList.remove('panning');
    st.dragged = drag && drag.moved;
    drag = null;
  });
}

/* ---- building (once per layout) ---- */

function kindOf(id) {
  return id.startsWith('topic:') ? 'topic' : id.startsWith('store:') ? 'store' : 'component';
}

function bandPath(w) {
  return `M0,6 a6,6 0 0 1 6,-6 h${w - 12} a6,6 0 0 1 6,6 v10 h${-w} z`;
}

/* Title and kind share the band: the longer one loses characters until both fit (measured,
 * since the page's font decides the widths). The hover title keeps the full names. */
function shareBand(t, k, title, kind, room) {
  let tn = title.length, kn = kind.length;
  while (tn + kn > 2 && t.getComputedTextLength() + k.getComputedTextLength() > room) {
    if (tn >= kn) t.textContent = cut(title, --tn); else k.textContent = cut(kind, --kn);
  }
}

function drawNode(layer, id, box, role, title, kind) {
  const g = el('g', { class: `node ${role}`, 'data-id': id, transform: `translate(${box.x},${box.y})` }, layer);
  const hover = el('title', {}, g);
  el('rect', { class: 'box', width: box.w, height: box.h }, g);
  el('path', { class: 'band', d: bandPath(box.w) }, g);
  const t = el('text', { class: 'title', x: 7, y: 12 }, g, title);
  const k = el('text', { class: 'kind', x: box.w - 7, y: 12, 'text-anchor': 'end' }, g, kind);
  shareBand(t, k, title, kind, box.w - 20);
  const lines = [0, 1, 2].map((i) => el('text', { x: 7, y: 30 + i * 14 }, g));
  el('rect', { class: 'qbar-bg', x: 1, y: box.h - 4, width: box.w - 2, height: 3 }, g).style.display = 'none';
  const qbar = el('rect', { class: 'qbar', x: 1, y: box.h - 4, width: 0, height: 3 }, g);
  g.addEventListener('click', () => { if (!st.dragged) select(id); });
  return { g, hover, lines, qbar, box, id };
}

function edgePath(e) {
  const p = e.points;
  if (!p.length) return '';
  let d = `M${p[0][0]},${p[0][1]}`;
  for (let i = 1; i + 2 < p.length; i += 3) d += ` C${p[i]} ${p[i + 1]} ${p[i + 2]}`;
  if (e.end) d += ` L${e.end[0]},${e.end[1]}`;
  return d;
}

function edgeKind(data, from, to) {
  const inner = data.processes.some((p) => p.edges.some((e) => e.from === from && e.to === to));
  if (inner) return 'inner';
  const e = data.edges.find((x) => x.from === from && x.to === to);
  return e ? e.kind : 'inner';
}

function build(data) {
  const vp = document.getElementById('viewport');
  vp.textContent = '';
  st.nodes.clear(); st.groups.clear(); st.edges = [];
  const l = st.layout;
  const groupLayer = el('g', {}, vp), edgeLayer = el('g', {}, vp), nodeLayer = el('g', {}, vp);
  const noteLayer = el('g', {}, vp); /* above the nodes: an unreachable process's notice */
  for (const p of data.processes) {
    const b = l.groups[p.name];
    if (!b) continue;
    const g = el('g', { class: 'group', 'data-process': p.name, transform: `translate(${b.x},${b.y})` }, groupLayer);
    el('rect', { width: b.w, height: b.h }, g);
    const title = el('text', { class: 'gtitle', x: 8, y: 16 }, g, p.name);
    const sub = el('text', { class: 'gsub', x: 8 + title.getComputedTextLength() + 8, y: 16 }, g);
    const note = el('text', { class: 'gnote', x: b.x + b.w / 2, y: b.y + b.h / 2, 'text-anchor': 'middle',
      'data-process': p.name }, noteLayer);
    st.groups.set(p.name, { g, sub, note, box: b, room: b.w - title.getComputedTextLength() - 24 });
    for (const c of p.components)
      st.nodes.set(c.id, drawNode(nodeLayer, c.id, l.nodes[c.id], c.role, c.name, c.kind));
  }
  for (const t of data.topics)
    st.nodes.set(t.id, drawNode(nodeLayer, t.id, l.nodes[t.id], 'topic', t.name, t.dead_letter ? 'dead letters' : 'topic'));
  for (const s of data.stores) /* "PostgreSQL host:port/db": the kind as title, where below */
    st.nodes.set(s.id, drawNode(nodeLayer, s.id, l.nodes[s.id], 'store', s.label.split(' ')[0], 'store'));
  for (const e of l.edges) {
    const kind = edgeKind(data, e.from, e.to);
    const path = el('path', { class: `dedge ${kind}`, d: edgePath(e), 'data-from': e.from, 'data-to': e.to }, edgeLayer);
    st.edges.push({ path, title: el('title', {}, path), e, kind });
  }
  st.built = true;
  fit();
}

/* ---- updating (every poll) ---- */

function setLine(t, parts, why) {
  t.textContent = '';
  t.setAttribute('class', why ? 'why' : '');
  if (why) { t.textContent = why; return; }
  parts.forEach(([label, value], i) => {
    if (label === 'at') { el('tspan', {}, t, value); return; }
    el('tspan', { class: 'label', x: 7 + i * 76 }, t, label + ' ');
    el('tspan', {}, t, value);
  });
}

/* The box's lines: pairs of the fixed body, the first trouble reason last. */
function fillLines(v, body, trouble, width) {
  const pairs = [];
  const shown = body.filter(([label]) => label !== 'queue');
  /* Two to a line; a 'wide' entry (a store's address) takes a line of its own. */
  for (let i = 0; i < shown.length && pairs.length < 3;) {
    const wide = (x) => x && x[2] === 'wide';
    const n = wide(shown[i]) || wide(shown[i + 1]) ? 1 : 2;
    pairs.push(shown.slice(i, i + n));
    i += n;
  }
  const why = trouble.length ? cut(trouble[0], Math.floor(width / 5.6)) : null;
  v.lines.forEach((t, i) => {
    if (why && i === 2) setLine(t, [], why);
    else setLine(t, pairs[i] || [], null);
  });
}

function updateComponent(c, down) {
  const v = st.nodes.get(c.id);
  if (!v) return;
  const trouble = c.trouble || [];
  v.g.classList.toggle('trouble', trouble.length > 0);
  v.g.classList.toggle('down', down);
  fillLines(v, down ? c.body.map(([l]) => [l, '–']) : c.body, trouble, v.box.w);
  const q = c.body.find(([label]) => label === 'queue');
  v.qbar.previousSibling.style.display = q ? '' : 'none';
  const fill = q ? parseFloat(q[1]) / 100 : 0;
  v.qbar.setAttribute('width', (v.box.w - 2) * Math.min(1, fill));
  v.qbar.setAttribute('class', 'qbar' + (fill >= 0.8 ? ' warn' : ''));
  v.hover.textContent = `${c.id} (${c.kind})` + (trouble.length ? '\n⚠ ' + trouble.join('\n⚠ ') : '');
  v.data = c;
}

function updateTopic(t) {
  const v = st.nodes.get(t.id);
  if (!v) return;
  const lag = fmtNum(t.lag) + (t.lag_estimated ? ' (est.)' : '');
  const nparts = Object.keys(t.partitions || {}).length;
  const groups = t.consumers.length;
  fillLines(v, [['in', fmtRate(t.rate_in)], ['partitions', nparts ? String(nparts) : '–'],
    ['lag', lag], ['groups', String(groups)]], t.trouble || [], v.box.w);
  v.g.classList.toggle('trouble', (t.trouble || []).length > 0);
  v.g.dataset.lag = t.lag;
  v.hover.textContent = `topic ${t.name}: produced by ${t.producers.join(', ') || 'nobody'}; ` +
    `consumed by ${t.consumers.map((c) => c.component + ' (' + c.group + ')').join(', ') || 'nobody'}`;
  v.data = t;
}

function updateStore(s) {
  const v = st.nodes.get(s.id);
  if (!v) return;
  const body = [['at', s.label.split(' ')[1] || '', 'wide'], ['rows', fmtRate(s.rows_per_s)],
    ['errors', fmtRate(s.errors_per_s)]];
  if (s.outbox_depth !== undefined) body.push(['outbox', fmtNum(s.outbox_depth)]);
  fillLines(v, body, s.trouble || [], v.box.w);
  v.g.classList.toggle('trouble', (s.trouble || []).length > 0);
  v.hover.textContent = `${s.label}: written by ${s.writers.join(', ') || 'nobody'}` +
    (s.readers.length ? `; read by ${s.readers.join(', ')}` : '');
  v.data = s;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString();
}

function updateGroup(p) {
  const v = st.groups.get(p.name);
  if (!v) return;
  const down = p.status !== 'up';
  v.g.classList.toggle('down', down);
  /* The notice goes over the group's middle, where it cannot be missed or clipped. */
  v.note.textContent = down ? `unreachable since ${clock(p.since_ms)}` : '';
  const parts = [down ? 'unreachable' : 'up'];
  if (p.supervised) parts.push(`restarts ${p.restarts}`);
  if (p.supervised && p.state !== 'running') parts.push(p.state);
  v.sub.textContent = parts.join(' · ');
  for (let n = parts.length - 1; n > 0 && v.sub.getComputedTextLength() > v.room; n--)
    v.sub.textContent = parts.slice(0, n).join(' · ');
  v.g.dataset.status = p.status;
  v.g.dataset.restarts = p.restarts || 0;
}

function edgeRate(data, e) {
  const x = data.edges.find((d) => d.from === e.from && d.to === e.to);
  if (x) return x.rate;
  const n = st.nodes.get(e.to);
  return n && n.data && n.data.rates ? n.data.rates.in : 0;
}

function updateEdges(data) {
  for (const v of st.edges) {
    const r = edgeRate(data, v.e);
    v.path.setAttribute('stroke-width', Math.min(7, 1.2 + 1.6 * Math.log10(1 + r)).toFixed(2));
    v.path.classList.toggle('flowing', r > 0);
    v.title.textContent = `${v.e.from} → ${v.e.to}: ${fmtRate(r)}`;
  }
}

function banner(data) {
  /* Always one line tall, so trouble appearing never shrinks the canvas under the layout. */
  const b = document.getElementById('banner');
  b.textContent = '';
  b.className = data.trouble.length ? 'bad' : 'ok';
  if (!data.trouble.length) { b.textContent = 'nothing in trouble'; return; }
  el('b', {}, b, `${data.trouble.length} in trouble:`);
  for (const t of data.trouble) {
    const name = t.id.replace(/^topic:/, 'topic ').replace(/^store:[a-z]+:/, '');
    const item = el('span', { class: 'item', 'data-id': t.id }, b, `${name}: ${t.reason}`);
    item.addEventListener('click', () => st.nodes.has(t.id) && select(t.id));
  }
}

function render(data) {
  document.getElementById('file').textContent = data.file || '';
  if (!st.layout) {
    if (!data.layout || data.layout.error) {
      document.getElementById('viewport').textContent = '';
      el('text', { x: 20, y: 40 }, document.getElementById('viewport'),
        'no layout: ' + ((data.layout && data.layout.error) || 'Graphviz missing'));
      return;
    }
    st.layouts = data.layout;
    st.dir = pickDirection(st.layouts);
    st.layout = st.layouts[st.dir];
    document.body.dataset.direction = st.dir;
  }
  if (!st.built) build(data);
  st.data = data;
  for (const p of data.processes) {
    updateGroup(p);
    for (const c of p.components) updateComponent(c, p.status !== 'up');
  }
  data.topics.forEach(updateTopic);
  data.stores.forEach(updateStore);
  updateEdges(data);
  banner(data);
  for (const [id, v] of st.nodes) v.g.classList.toggle('selected', id === st.selected);
  if (st.selected) panel();
}

/* ---- the side panel: everything about one node, extras under "more" ---- */

function rows(table, pairs) {
  table.textContent = '';
  for (const [k, v] of pairs) {
    const tr = el('tr', {}, table);
    el('td', {}, tr, k);
    el('td', {}, tr, v);
  }
}

function panelPairs(d) {
  if (d.body) return { body: d.body, more: d.more || [], sub: `${d.role} · kind ${d.kind}` };
  if (d.producers) {
    const parts = Object.entries(d.partitions || {}).map(([p, lag]) => ['lag of partition ' + p, fmtNum(lag)]);
    const groups = d.consumers.map((c) => ['lag of group ' + c.group, fmtNum(c.lag) + (c.estimated ? ' (est.)' : '')]);
    return { body: [['messages in', fmtRate(d.rate_in)], ['lag', fmtNum(d.lag)]].concat(groups),
      more: parts.concat(d.producers.map((p) => ['produced by', p]), d.consumers.map((c) => ['consumed by', c.component])),
      sub: 'Kafka topic' };
  }
  return { body: [['rows written', fmtRate(d.rows_per_s)], ['errors and retries', fmtRate(d.errors_per_s)]]
    .concat(d.outbox_depth !== undefined ? [['outbox depth', fmtNum(d.outbox_depth)]] : []),
  more: d.writers.map((w) => ['written by', w]).concat(d.readers.map((r) => ['read by', r])), sub: d.kind };
}

function panel() {
  const v = st.nodes.get(st.selected);
  if (!v || !v.data) return;
  const d = v.data, pp = panelPairs(d);
  document.getElementById('p-name').textContent = d.id;
  document.getElementById('p-sub').textContent = pp.sub;
  const ul = document.getElementById('p-trouble');
  ul.textContent = '';
  for (const why of d.trouble || []) el('li', {}, ul, why);
  rows(document.getElementById('p-body'), pp.body);
  rows(document.getElementById('p-more'), pp.more.length ? pp.more : [['nothing else', '']]);
  const link = document.getElementById('p-link');
  link.textContent = '';
  const proc = kindOf(d.id) === 'component' && st.data.processes.find((p) => d.id.startsWith(p.name + '/'));
  if (proc) el('a', { href: `http://${proc.admin}/`, target: '_blank' }, link, `${proc.name}'s own graph page`);
}

function select(id) {
  st.selected = id;
  document.getElementById('panel').hidden = !id;
  for (const [k, v] of st.nodes) v.g.classList.toggle('selected', k === id);
  if (id) panel();
}

/* ---- polling ---- */

async function poll() {
  const status = document.getElementById('status');
  try {
    const res = await fetch('/api/deployment', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
    status.className = 'status live';
    status.textContent = 'live · ' + new Date().toLocaleTimeString();
  } catch (err) {
    status.className = 'status stale';
    status.textContent = 'disconnected (' + err.message + '), retrying';
  }
  setTimeout(poll, 1000);
}

document.getElementById('fit').addEventListener('click', () => st.layout && fit());
document.getElementById('close').addEventListener('click', () => select(null));
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') select(null); });
window.addEventListener('resize', () => st.layout && fit());
enablePanZoom();
poll();
