// Smoke checks of a running `duplex serve` with the real npm clients (scripts/aot-smoke.sh):
//   node ws           /echo: text and binary come back unchanged, close 1000;
//                     /broadcast: a message reaches every connection, the sender included;
//   socket.io-client  /socket.io/ over websocket, and over polling upgraded to websocket:
//                     "message" emitted comes back as the chat's broadcast "message".
//
//   node tests/consumer/npm-clients-smoke.js http://127.0.0.1:<port>
//
// The clients come from tests/peers and tests/peers-socketio (`npm ci` there). Prints one line per
// check; exits 0 when all passed, 1 on the first failure, 3 after 30 s.
"use strict";
const path = require("path");
const crypto = require("crypto");

const root = path.resolve(__dirname, "../..");
const WebSocket = require(require.resolve("ws", { paths: [path.join(root, "tests/peers")] }));
const { io } = require(require.resolve("socket.io-client", { paths: [path.join(root, "tests/peers-socketio")] }));

const base = process.argv[2];
if (!base || !/^http:\/\//.test(base)) {
  console.error("usage: node npm-clients-smoke.js http://127.0.0.1:<port>");
  process.exit(2);
}
const wsBase = base.replace(/^http:/, "ws:");
setTimeout(() => { console.error("FAIL: gave up after 30 s"); process.exit(3); }, 30000).unref();

const ok = (what) => console.log("ok   " + what);
const check = (cond, what) => { if (!cond) throw new Error(what); ok(what); };
const within = (ms, what, promise) => Promise.race([
  promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref()),
]);

function openWs(url) {
  return within(5000, `ws open ${url}`, new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  }));
}
const nextMessage = (ws, what) => within(5000, what, new Promise((resolve) =>
  ws.once("message", (data, isBinary) => resolve({ data: Buffer.from(data), isBinary }))));
const closed = (ws, what) => within(5000, what, new Promise((resolve) => ws.once("close", (code) => resolve(code))));

async function wsEcho() {
  const url = wsBase + "/echo";
  const ws = await openWs(url);
  const text = "npm ws héllo ✓ " + crypto.randomUUID();
  ws.send(text);
  let m = await nextMessage(ws, "ws text echo");
  check(!m.isBinary && m.data.toString("utf8") === text, `ws ${url}: text echoed (${Buffer.byteLength(text)} bytes)`);
  const binary = crypto.randomBytes(70000);
  ws.send(binary);
  m = await nextMessage(ws, "ws binary echo");
  check(m.isBinary && m.data.equals(binary), `ws ${url}: binary echoed (${binary.length} bytes)`);
  const code = closed(ws, "ws close");
  ws.close(1000);
  check((await code) === 1000, `ws ${url}: closed with 1000`);
}

async function wsBroadcast() {
  const url = wsBase + "/broadcast";
  const a = await openWs(url), b = await openWs(url);
  const text = "npm ws broadcast " + crypto.randomUUID();
  const atA = nextMessage(a, "broadcast to the sender"), atB = nextMessage(b, "broadcast to the other");
  a.send(text);
  const [ma, mb] = await Promise.all([atA, atB]);
  check(ma.data.toString() === text && mb.data.toString() === text, `ws ${url}: one message reached both connections`);
  a.close(1000); b.close(1000);
}

async function socketIO(transports) {
  const how = transports.join("+");
  const socket = io(base, { transports, forceNew: true, reconnection: false, timeout: 5000 });
  try {
    let first;
    socket.io.on("open", () => { first = socket.io.engine.transport.name; });
    await within(5000, `socket.io ${how} connect`, new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    }));
    check(first === transports[0], `socket.io ${how}: connected over ${first} (id ${socket.id})`);
    const engine = socket.io.engine;
    if (transports.length > 1) {
      if (engine.transport.name !== "websocket")
        await within(10000, `socket.io ${how} upgrade`, new Promise((resolve) => engine.once("upgrade", resolve)));
      check(engine.transport.name === "websocket", `socket.io ${how}: upgraded to websocket`);
    }
    const payload = { text: `npm socket.io-client ${how} ✓`, id: crypto.randomUUID(), n: [1, 2.5, null, true] };
    const back = within(5000, `socket.io ${how} broadcast`, new Promise((resolve) => {
      socket.on("message", (m) => { if (m && m.id === payload.id) resolve(m); });
    }));
    socket.emit("message", payload);
    check(JSON.stringify(await back) === JSON.stringify(payload), `socket.io ${how}: "message" broadcast back unchanged`);
  } finally {
    socket.disconnect();
  }
}

(async () => {
  await wsEcho();
  await wsBroadcast();
  await socketIO(["websocket"]);
  await socketIO(["polling", "websocket"]);
  console.log("npm clients: every check passed");
  process.exit(0);
})().catch((err) => {
  console.error("FAIL: " + (err && err.message || err));
  process.exit(1);
});
