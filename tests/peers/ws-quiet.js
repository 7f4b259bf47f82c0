'use strict';
// A Node `ws` client for the idle-timeout and lifetime tests: sends `count` text messages `every` ms
// apart (each echoed by the server), then stays connected sending only pings `every` ms apart (ws
// answers the server's pings by itself), until the server closes. Reports one JSON line:
// {"sent", "echoed", "echoedBeforeClose", "pings", "pongs", "close": {"code", "reason"}}.
//
//   node ws-quiet.js <ws-url> <count> <every-ms>
const WebSocket = require('ws');

const [url, countArg, everyArg] = process.argv.slice(2);
if (!url || !countArg || !everyArg) {
  console.error('usage: node ws-quiet.js <ws-url> <count> <every-ms>');
  process.exit(64);
}
const count = Number(countArg);
const every = Number(everyArg);

setTimeout(() => {
  console.error('ws-quiet: gave up after 15 s');
  process.exit(3);
}, 15000).unref();

const report = { sent: 0, echoed: 0, pings: 0, pongs: 0, close: null };
const ws = new WebSocket(url);
let timer = null;
ws.on('open', () => {
  timer = setInterval(() => {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (report.sent < count) {
      ws.send(`m${report.sent}`);
      report.sent++;
    } else {
      ws.ping();
      report.pings++;
    }
  }, every);
});
ws.on('message', () => { report.echoed++; });
ws.on('pong', () => { report.pongs++; });
ws.on('close', (code, reason) => {
  clearInterval(timer);
  report.close = { code, reason: reason.toString() };
  console.log(JSON.stringify(report));
  process.exit(0);
});
ws.on('error', err => {
  console.error(`ws-quiet: ${err.message}`);
  process.exit(2);
});
