'use strict';
// The Node `ws` client driving a Duplex server: a scripted exchange against an echo endpoint,
// reported as one JSON line on stdout for the C# test to judge. The script only records what
// happened; every verdict is the test's.
//
//   node ws-client.js <ws-url>
//
// The endpoint must echo every message, and close with 4002 when it receives the text "close-me".
const WebSocket = require('ws');

const url = process.argv[2];
if (!url) {
  console.error('usage: node ws-client.js <ws-url>');
  process.exit(64);
}

// Nothing may hang: the test waits for our output with its own bound, this one makes sure we exit.
setTimeout(() => {
  console.error('ws-client: gave up after 15 s');
  process.exit(3);
}, 15000).unref();

const pattern = (length, seed) => {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

// Sizes at the edges of the three payload-length encodings (RFC 6455 §5.2): 7-bit up to 125,
// 16-bit from 126 up to 65535, 64-bit from 65536.
const messages = [
  { name: 'text', binary: false, data: Buffer.from('hello') },
  { name: 'text-unicode', binary: false, data: Buffer.from('héllo ✓ 🎉 ünïcödé') },
  { name: 'text-empty', binary: false, data: Buffer.alloc(0) },
  { name: 'binary-empty', binary: true, data: Buffer.alloc(0) },
  { name: 'binary-125', binary: true, data: pattern(125, 1) },
  { name: 'binary-126', binary: true, data: pattern(126, 2) },
  { name: 'binary-65535', binary: true, data: pattern(65535, 3) },
  { name: 'binary-65536', binary: true, data: pattern(65536, 4) },
  { name: 'text-65536', binary: false, data: Buffer.from('é'.repeat(32768)) },
  { name: 'binary-1MiB', binary: true, data: pattern(1 << 20, 5) },
];

// Fragments: the text one splits '✓' (E2 9C 93) across frames, which is valid (RFC 6455 §5.6 only
// requires the whole message to be UTF-8); the binary one has an empty middle fragment.
const check = Buffer.from('✓');
const fragmented = [
  { name: 'text-fragmented', binary: false,
    fragments: [Buffer.concat([Buffer.from('frag'), check.subarray(0, 2)]), Buffer.concat([check.subarray(2), Buffer.from('ment')])] },
  { name: 'binary-fragmented', binary: true, fragments: [pattern(300, 6), Buffer.alloc(0), pattern(70000, 7)] },
];

const b64 = b => Buffer.from(b).toString('base64');

function open(address) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(address);
    const received = [];
    const waiting = [];
    ws.on('message', (data, isBinary) => {
      const m = { binary: isBinary, data: Buffer.from(data) };
      const w = waiting.shift();
      if (w) w(m); else received.push(m);
    });
    ws.next = () => new Promise(r => {
      const m = received.shift();
      if (m) r(m); else waiting.push(r);
    });
    ws.closed = new Promise(r => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function main() {
  const report = { echoes: [] };
  const ws = await open(url);

  for (const m of messages) {
    ws.send(m.data, { binary: m.binary });
    const echo = await ws.next();
    report.echoes.push({ name: m.name, sentBinary: m.binary, sent: b64(m.data), receivedBinary: echo.binary, received: b64(echo.data) });
  }
  for (const m of fragmented) {
    m.fragments.forEach((f, i) => ws.send(f, { binary: m.binary, fin: i === m.fragments.length - 1 }));
    const echo = await ws.next();
    report.echoes.push({ name: m.name, sentBinary: m.binary, sent: b64(Buffer.concat(m.fragments)), receivedBinary: echo.binary, received: b64(echo.data) });
  }

  const pingPayload = Buffer.from('ping ✓ 123');
  const pong = new Promise(r => ws.once('pong', data => r(data)));
  ws.ping(pingPayload);
  report.ping = { sent: b64(pingPayload), pong: b64(await pong) };

  ws.close(4000, 'client done ✓');
  report.clientClose = await ws.closed;

  // A second connection, closed by the server this time.
  const ws2 = await open(url);
  ws2.send('close-me');
  report.serverClose = await ws2.closed;

  // A third: text that is not UTF-8 (ws does not check what it sends), which the server must fail
  // with 1007 (RFC 6455 §8.1).
  const ws3 = await open(url);
  ws3.send(Buffer.from([0x68, 0x69, 0xff, 0xfe]), { binary: false });
  report.invalidUtf8Close = await ws3.closed;

  console.log(JSON.stringify(report));
}

main().catch(err => {
  console.error('ws-client:', err && err.stack || err);
  process.exit(1);
});
