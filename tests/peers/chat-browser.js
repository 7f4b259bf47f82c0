'use strict';
// Two headless Chromium contexts (two users) on the /chat page of `duplex serve`, which runs the
// official socket.io-client browser build. Prints one JSON line.
//
//   node chat-browser.js <base-url> <room> <message>
//       A opens /chat and joins <room>; B opens /chat and joins <room> (A must see user-joined);
//       B sends <message> (both must see it). Reports each page's id, status and log.
const { chromium } = require('playwright-core');

const [baseUrl, room, message] = process.argv.slice(2);
const STEP = 15000;

setTimeout(() => {
  console.error('chat-browser.js: gave up after 60 s');
  process.exit(3);
}, 60000).unref();

async function openChat(browser, name, consoleLines) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('console', m => consoleLines.push(`${name}: ${m.text()}`));
  page.on('pageerror', e => consoleLines.push(`${name} error: ${e.message}`));
  await page.goto(new URL('/chat', baseUrl).toString(), { timeout: STEP });
  await page.waitForFunction(() => document.getElementById('status').textContent === 'connected', null, { timeout: STEP });
  await page.fill('#name', name, { timeout: STEP });
  return page;
}

const logOf = page => page.$$eval('#log li', items => items.map(li => ({ kind: li.className, text: li.textContent })));
// Runs in the page: whether the log has an entry of this kind with exactly this text.
const hasEntry = ([kind, text]) => [...document.querySelectorAll(`#log li.${kind}`)].some(li => li.textContent === text);

async function join(page) {
  await page.fill('#room', room, { timeout: STEP });
  await page.click('#join', { timeout: STEP });
}

async function send(page, text) {
  await page.fill('#message', text, { timeout: STEP });
  await page.click('#send', { timeout: STEP });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: STEP,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const consoleLines = [];
  try {
    const alice = await openChat(browser, 'alice', consoleLines);
    await join(alice);
    // The server handles a socket's events in order: once alice sees her own message come back,
    // her join-room has been handled, so bob's join below must reach her.
    await send(alice, 'alice is here');
    await alice.waitForFunction(hasEntry, ['message', 'alice: alice is here'], { timeout: STEP });

    const bob = await openChat(browser, 'bob', consoleLines);
    await join(bob);
    await alice.waitForSelector('#log li.joined', { timeout: STEP });

    await send(bob, message);
    await alice.waitForFunction(hasEntry, ['message', `bob: ${message}`], { timeout: STEP });
    await bob.waitForFunction(hasEntry, ['message', `bob: ${message}`], { timeout: STEP });

    const report = {};
    for (const [name, page] of [['alice', alice], ['bob', bob]]) {
      report[name] = {
        status: await page.textContent('#status'),
        me: await page.textContent('#me'),
        client: await page.evaluate(() => typeof io),
        log: await logOf(page),
      };
    }
    report.console = consoleLines;
    console.log(JSON.stringify(report));
  } catch (err) {
    console.error('console:', JSON.stringify(consoleLines));
    throw err;
  } finally {
    await browser.close();
  }
}

main().catch(err => {
  console.error('chat-browser.js:', err && err.stack || err);
  process.exit(1);
});
