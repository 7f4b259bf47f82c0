'use strict';
// The soak's load: --connections slots, each a ws client that echoes one message per --interval-ms,
// lives a random --min-life..--max-life seconds, stops sending, waits for every echo, closes with 1000,
// and is replaced by a new connection at once. Runs --duration seconds, then closes everything and
// prints one JSON line of totals. Every outcome other than "each echo came back, in order, and each
// close ended 1000" is counted as an error by kind.
//
// usage: node soak-client.js --url ws://127.0.0.1:8080/echo [--connections 5000] [--duration 600]
//        [--interval-ms 1000] [--min-life 5] [--max-life 30] [--ramp 10]
const WebSocket = require('ws');

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const url = arg('url', 'ws://127.0.0.1:8080/echo');
const slots = Number(arg('connections', 5000));
const duration = Number(arg('duration', 600)) * 1000;
const interval = Number(arg('interval-ms', 1000));
const minLife = Number(arg('min-life', 5)) * 1000;
const maxLife = Number(arg('max-life', 30)) * 1000;
const ramp = Number(arg('ramp', 10)) * 1000;

const totals = { opened: 0, closed: 0, sent: 0, echoed: 0, open: 0 };
const errors = {};
const fail = (kind) => { errors[kind] = (errors[kind] || 0) + 1; };
const started = Date.now();
let stopping = false;
const live = new Set(); // open sockets, for the final close

function run(slot) {
  if (stopping) return;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  let seq = 0, next = 0, timer = null, life = null, opened = false, done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearInterval(timer);
    clearTimeout(life);
    if (opened) totals.open--;
    setImmediate(() => run(slot)); // the slot is refilled at once: the count stays at --connections
  };
  const close = () => {
    clearInterval(timer);
    // Every echo first: one still missing after 5 s is an error, then close anyway.
    const began = Date.now();
    const wait = setInterval(() => {
      if (next === seq || Date.now() - began > 5000) {
        clearInterval(wait);
        if (next !== seq) fail('echo-missing');
        ws.close(1000);
      }
    }, 20);
  };
  ws.on('open', () => {
    opened = true;
    live.add(ws);
    totals.opened++;
    totals.open++;
    timer = setInterval(() => {
      ws.send(`${slot}:${seq++}`);
      totals.sent++;
    }, interval);
    life = setTimeout(close, stopping ? 0 : minLife + Math.random() * (maxLife - minLife));
  });
  ws.on('message', (data) => {
    if (data.toString() !== `${slot}:${next}`) fail('echo-mismatch');
    next++;
    totals.echoed++;
  });
  ws.on('close', (code) => {
    live.delete(ws);
    if (opened) totals.closed++;
    if (!opened) fail('connect-failed');
    else if (code !== 1000 && !stopping) fail(`close-${code}`);
    finish();
  });
  ws.on('error', (e) => fail(`error-${e.code || e.message}`));
}

for (let i = 0; i < slots; i++) setTimeout(() => run(i), (ramp * i) / slots);

const report = setInterval(() => {
  const t = Math.round((Date.now() - started) / 1000);
  console.log(JSON.stringify({ t, ...totals, errors }));
}, 10_000);

setTimeout(() => {
  stopping = true;
  clearInterval(report);
  for (const ws of [...live]) ws.close(1000);
  // Bounded: whatever has not closed 15 s later is counted and the process ends.
  setTimeout(() => {
    if (totals.open > 0) errors['open-at-end'] = totals.open;
    console.log(JSON.stringify({ final: true, t: Math.round((Date.now() - started) / 1000), ...totals, errors }));
    process.exit(0);
  }, 15_000);
}, duration);
