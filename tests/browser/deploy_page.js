/* tests/browser/deploy_page.js: drives the deployment page of a running `ugcflow up` in headless
 * Chromium at 1400x900 (Debian's /usr/bin/chromium through playwright-core), with events posted
 * to the stat API meanwhile. Checks from the rendered geometry: every pipeline a group, every
 * topic between its producers and consumers, the stores present, no overlaps, no edge through a
 * box, everything inside the window after fit, nothing moving between refreshes, no raw metric
 * name; then SIGSTOPs etl-events and expects it grey, "unreachable since", and its topic's lag
 * growing within 5 s. Screenshots go to BUILD_DIR. Run by tests/it_up.sh:
 * node deploy_page.js PAGE_URL BUILD_DIR STAT_LISTEN */
'use strict';
const path = require('path');
const { chromium } = require('playwright-core');

const [url, buildDir, statListen] = process.argv.slice(2);
const W = 1400, H = 900;
let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) { passed++; console.log('ok   ' + what); } else { failed++; console.log('FAIL ' + what); }
}

async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/* Events into the stat API, so the producers of the events topic keep producing. */
function startLoad() {
  let stop = false;
  const body = JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ type: 'click', anonymous_id: 'b' + i })));
  (async () => {
    while (!stop) {
      try {
        await fetch(`http://${statListen}/api/v1/events`, { method: 'POST', body,
          headers: { 'Content-Type': 'application/json' } });
      } catch (err) { /* the stat process may be restarting */ }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return () => { stop = true; };
}

/* Screen boxes of every node and the sampled screen points of every edge. */
const geometry = (page) => page.evaluate(() => {
  const nodes = [...document.querySelectorAll('g.node')].map((g) => {
    const r = g.querySelector('rect.box').getBoundingClientRect();
    return { id: g.dataset.id, x: r.x, y: r.y, w: r.width, h: r.height, text: g.textContent };
  });
  const edges = [...document.querySelectorAll('path.dedge')].map((p) => {
    const m = p.getScreenCTM(), len = p.getTotalLength(), pts = [];
    for (let s = 0; s <= len; s += 3) {
      const q = p.getPointAtLength(s);
      pts.push([m.a * q.x + m.c * q.y + m.e, m.b * q.x + m.d * q.y + m.f]);
    }
    return { from: p.dataset.from, to: p.dataset.to, pts };
  });
  return { nodes, edges };
});

function overlaps(a, b) {
  return a.x < b.x + b.w - 1 && b.x < a.x + a.w - 1 && a.y < b.y + b.h - 1 && b.y < a.y + a.h - 1;
}

function checkGeometry(geo) {
  const bad = [];
  for (let i = 0; i < geo.nodes.length; i++)
    for (let k = i + 1; k < geo.nodes.length; k++)
      if (overlaps(geo.nodes[i], geo.nodes[k])) bad.push(geo.nodes[i].id + ' / ' + geo.nodes[k].id);
  check(bad.length === 0, 'no node overlaps another' + (bad.length ? ': ' + bad.join(', ') : ''));
  const through = [];
  for (const e of geo.edges)
    for (const n of geo.nodes) {
      if (n.id === e.from || n.id === e.to) continue;
      const inside = e.pts.some(([x, y]) => x > n.x + 2 && x < n.x + n.w - 2 && y > n.y + 2 && y < n.y + n.h - 2);
      if (inside) through.push(`${e.from} -> ${e.to} through ${n.id}`);
    }
  check(through.length === 0, 'no edge crosses a node box' + (through.length ? ': ' + through.join('; ') : ''));
  const out = geo.nodes.filter((n) => n.x < 0 || n.y < 0 || n.x + n.w > W || n.y + n.h > H);
  check(out.length === 0, `every node inside ${W}x${H} after fit` + (out.length ? ': ' + out.map((n) => n.id).join(', ') : ''));
  const raw = geo.nodes.filter((n) => /_total|_bytes|_messages|_ms\b|\{/.test(n.text));
  check(raw.length === 0, 'no raw metric name in a node' + (raw.length ? ': ' + raw.map((n) => n.id).join(', ') : ''));
}

async function checkStructure(page, api) {
  const groups = await page.$$eval('g.group', (gs) => gs.map((g) => g.dataset.process));
  check(api.processes.every((p) => groups.includes(p.name)), `all ${api.processes.length} pipelines drawn as groups`);
  const edges = await page.$$eval('path.dedge', (ps) => ps.map((p) => [p.dataset.from, p.dataset.to]));
  for (const t of api.topics.filter((x) => x.consumers.length)) {
    const ins = t.producers.every((p) => edges.some(([f, to]) => f === p && to === t.id));
    const outs = t.consumers.every((c) => edges.some(([f, to]) => f === t.id && to === c.component));
    check(ins && outs, `topic ${t.name} between ${t.producers.join(', ')} and ${t.consumers.map((c) => c.component).join(', ')}`);
  }
  const stores = await page.$$eval('g.node.store', (gs) => gs.map((g) => g.textContent));
  check(stores.some((s) => s.includes('PostgreSQL')) && stores.some((s) => s.includes('ClickHouse')),
    'PostgreSQL and ClickHouse drawn');
}

async function checkPanel(page) {
  await page.click('g.node[data-id="stat/api"]');
  const more = await until(() => page.$eval('#p-more', (t) => t.textContent), 3000, 'the panel');
  check(/port\s*\d{4,5}(?!\.\d)/.test(more) && !/_total|http_listen_port/.test(more),
    'the panel shows the kind metrics under labels (the port as a number)');
  await page.click('#close');
}

async function stopEtlEvents(page, api) {
  const etl = api.processes.find((p) => p.name === 'etl-events');
  const topic = api.topics.find((t) => t.consumers.some((c) => c.component.startsWith('etl-events/')));
  const lagNow = () => page.$eval(`g.node[data-id="${topic.id}"]`, (g) => Number(g.dataset.lag));
  process.kill(etl.pid, 'SIGSTOP');
  const t0 = Date.now();
  try {
    await until(() => page.evaluate(() =>
      document.querySelector('g.group[data-process="etl-events"]').classList.contains('down')
      && document.querySelector('text.gnote[data-process="etl-events"]').textContent.startsWith('unreachable since')
      && [...document.querySelectorAll('g.node[data-id^="etl-events/"]')].every((g) => g.classList.contains('down'))),
    5000, 'etl-events greyed');
    check(true, `etl-events grey and "unreachable since" after ${Date.now() - t0} ms`);
    const first = await lagNow();
    await until(async () => (await lagNow()) > first + 10, 5000 - (Date.now() - t0), 'lag to grow');
    check(Date.now() - t0 <= 5000, `lag on ${topic.name} growing (${first} -> ${await lagNow()}) within ${Date.now() - t0} ms`);
    const banner = await page.$eval('#banner', (b) => (b.className === 'bad' ? b.textContent : ''));
    check(banner.includes('etl-events') && banner.includes('unreachable'), 'the banner lists etl-events as unreachable');
    await page.screenshot({ path: path.join(buildDir, 'deploy-etl-events-stopped.png') });
  } finally {
    process.kill(etl.pid, 'SIGCONT');
  }
}

async function main() {
  const api = await (await fetch(url + '/api/deployment')).json();
  const ids = api.processes.flatMap((p) => p.components.map((c) => c.id))
    .concat(api.topics.map((t) => t.id), api.stores.map((s) => s.id));
  const stopLoad = startLoad();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: W, height: H } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url + '/', { waitUntil: 'load' });
    await until(() => page.$$eval('g.node', (g) => g.length).then((n) => n === ids.length), 10000, 'every node drawn');
    await until(() => page.$eval('#status', (s) => s.classList.contains('live')), 5000, 'a live poll');
    await checkStructure(page, api);
    const geo = await geometry(page);
    checkGeometry(geo);
    await page.waitForTimeout(2500); /* two more polls */
    const later = await geometry(page);
    const moved = later.nodes.filter((n) => {
      const o = geo.nodes.find((x) => x.id === n.id);
      return !o || Math.abs(o.x - n.x) > 0.5 || Math.abs(o.y - n.y) > 0.5;
    });
    check(moved.length === 0, 'nothing moves between refreshes');
    await checkPanel(page);
    await page.screenshot({ path: path.join(buildDir, 'deploy-running.png') });
    await stopEtlEvents(page, api);
    check(errors.length === 0, 'no script errors' + (errors.length ? ': ' + errors.join('; ') : ''));
  } finally {
    stopLoad();
    await browser.close();
  }
}

main().then(() => {
  console.log(`${passed} passed, ${failed} failed; screenshots in ${buildDir}`);
  process.exit(failed ? 1 : 0);
}, (err) => {
  console.log('FAIL ' + err.message);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
