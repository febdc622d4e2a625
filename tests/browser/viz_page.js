/* tests/browser/viz_page.js: drives the graph page of a running ugcflow in headless Chromium
 * (Debian's /usr/bin/chromium through playwright-core). Checks that every node of /api/graph is
 * drawn, that every node shows non-zero throughput that changes over time, that clicking a node
 * opens its options and sparklines, and that the page raised no script error; then saves a
 * screenshot. Usage: node viz_page.js ADMIN_URL SCREENSHOT.png. Run by tests/it_viz.sh. */
'use strict';
const { chromium } = require('playwright-core');

const [url, shot] = process.argv.slice(2);
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
    await new Promise((r) => setTimeout(r, 200));
  }
}

/* Per node id: rendered out-rate and total out counter, read from the page's data attributes. */
const readNodes = (page) => page.$$eval('g.node', (gs) => gs.map((g) => ({
  id: g.dataset.id, rate: Number(g.dataset.out), total: Number(g.dataset.totalOut),
  w: g.getBBox().width, text: g.textContent })));

async function main() {
  const api = await (await fetch(url + '/api/graph')).json();
  const ids = api.pipelines.flatMap((p) => p.nodes.map((n) => n.id));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url + '/', { waitUntil: 'load' });

    const drawn = await until(async () => {
      const ns = await readNodes(page);
      return ns.length === ids.length && ns.every((n) => n.rate > 0) && ns;
    }, 15000, 'every node drawn with a non-zero rate');
    check(ids.every((id) => drawn.some((n) => n.id === id && n.w > 100)),
      `all ${ids.length} nodes of ${api.pipelines.length} pipelines drawn`);
    check(drawn.every((n) => /\d+(\.\d)?k?\/s/.test(n.text)), 'every node shows events/s');
    const sections = await page.$$eval('section.pipeline', (s) => s.map((x) => x.dataset.pipeline));
    check(api.pipelines.every((p) => sections.includes(p.name)), 'one section per pipeline');
    const edges = await page.$$eval('path.edge', (ps) => ps.map((p) => Number(p.getAttribute('stroke-width'))));
    const nedges = api.pipelines.reduce((s, p) => s + p.edges.length, 0);
    check(edges.length === nedges && edges.every((w) => w > 1.2), `${nedges} edges drawn, width by throughput`);

    const later = await until(async () => {
      const ns = await readNodes(page);
      return ns.every((n) => n.total > drawn.find((d) => d.id === n.id).total) && ns;
    }, 10000, 'counters to move');
    check(later.every((n) => n.rate > 0), 'throughput changes over time and stays non-zero');

    const target = api.pipelines[0].nodes.find((n) => n.role === 'transform') || api.pipelines[0].nodes[0];
    await page.click(`g.node[data-id="${target.id}"]`);
    await until(() => page.$$eval('#p-sparks .spark polyline', (p) => p.length >= 4), 10000, 'sparklines');
    const panel = await page.$eval('#panel', (p) => ({ hidden: p.hidden, text: p.textContent }));
    check(!panel.hidden && panel.text.includes(target.id), 'clicking a node opens its panel');
    check(Object.keys(target.options).every((k) => panel.text.includes(k)), 'panel lists the options');
    await page.waitForTimeout(1200); /* let one more poll land so the screenshot is current */
    await page.screenshot({ path: shot, fullPage: true });
    check(errors.length === 0, 'no script errors' + (errors.length ? ': ' + errors.join('; ') : ''));
  } finally {
    await browser.close();
  }
}

main().then(() => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}, (err) => {
  console.log('FAIL ' + err.message);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
