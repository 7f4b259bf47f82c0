'use strict';
// Headless Chromium (Debian's, driven by playwright-core) as a WebSocket peer. Prints one JSON line.
//
//   node browser.js demo <page-url> <message>
//       Opens the `duplex serve` demo page, connects, sends <message>, disconnects; reports the
//       page's log and status.
//   node browser.js probe <page-url> <ws-url>...
//       Opens <page-url> (so the socket has that page's origin), then opens a WebSocket to each
//       <ws-url> in turn and reports its events: open (then closes it with 1000), error, close,
//       and the negotiated extensions; with ?echo=1 it first sends a large message and checks the echo.
const { chromium } = require('playwright-core');

const [mode, pageUrl, ...rest] = process.argv.slice(2);
const STEP = 10000;

setTimeout(() => {
  console.error('browser.js: gave up after 40 s');
  process.exit(3);
}, 40000).unref();

async function demo(page, message) {
  await page.goto(pageUrl, { timeout: STEP });
  await page.click('#connect', { timeout: STEP });
  await page.waitForSelector('#log li.open', { timeout: STEP });
  await page.fill('#message', message, { timeout: STEP });
  await page.click('#send', { timeout: STEP });
  await page.waitForSelector('#log li.received', { timeout: STEP });
  await page.click('#disconnect', { timeout: STEP });
  await page.waitForSelector('#log li.closed', { timeout: STEP });
  return {
    status: await page.textContent('#status'),
    log: await page.$$eval('#log li', items => items.map(li => ({ kind: li.className, text: li.textContent }))),
  };
}

async function probe(page, urls) {
  await page.goto(pageUrl, { timeout: STEP });
  const results = [];
  for (const url of urls) {
    results.push(await page.evaluate(url => new Promise(resolve => {
      const events = [];
      const socket = new WebSocket(url);
      const timer = setTimeout(() => resolve({ url, events, timedOut: true }), 8000);
      let extensions = null;
      // With ?echo=1 in the URL, a 50 000-character message must come back before the close.
      const probeEcho = new URL(url).searchParams.get('echo') === '1';
      const big = 'compressible '.repeat(5000);
      socket.onopen = () => {
        events.push('open');
        extensions = socket.extensions;
        if (probeEcho) socket.send(big); else socket.close(1000, 'probe done');
      };
      socket.onmessage = e => {
        events.push(e.data === big ? 'echo-ok' : 'echo-wrong');
        socket.close(1000, 'probe done');
      };
      socket.onerror = () => events.push('error');
      socket.onclose = e => {
        events.push('close');
        clearTimeout(timer);
        resolve({ url, events, extensions, code: e.code, reason: e.reason, wasClean: e.wasClean });
      };
    }), url));
  }
  return { probes: results };
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: STEP,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const consoleLines = [];
    page.on('console', m => consoleLines.push(m.text()));
    let report;
    if (mode === 'demo') report = await demo(page, rest[0]);
    else if (mode === 'probe') report = await probe(page, rest);
    else throw new Error(`unknown mode ${mode}`);
    report.console = consoleLines;
    console.log(JSON.stringify(report));
  } finally {
    await browser.close();
  }
}

main().catch(err => {
  console.error('browser.js:', err && err.stack || err);
  process.exit(1);
});
