// Drives the real npm socket.io-client against a server the .NET tests started.
// Usage: node client.js <scenario> <base-url> [json-options]
//   options: { client (io() options), parser ("msgpack": socket.io-msgpack-parser), timeoutMs, … per scenario }
// Prints one JSON object per line ({"step":..., ...}); exits 0 when the scenario ran to its end.
"use strict";
const { io } = require("socket.io-client");

const [scenario, url, rawOptions] = process.argv.slice(2);
const options = rawOptions ? JSON.parse(rawOptions) : {};
const report = (step, data = {}) => process.stdout.write(JSON.stringify({ step, ...data }) + "\n");
const fail = (why) => { report("fail", { why: String(why && why.stack || why) }); process.exit(1); };
const timer = setTimeout(() => fail("scenario timed out"), options.timeoutMs || 15000);
const done = () => { clearTimeout(timer); report("done"); setTimeout(() => process.exit(0), 50); };
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
// options.parser "msgpack" runs any scenario with socket.io-msgpack-parser instead of the default parser.
const parser = options.parser === "msgpack" ? { parser: require("socket.io-msgpack-parser") } : {};
const connect = (path = "", extra = {}) => io(url + path, { forceNew: true, reconnection: false, ...parser, ...options.client, ...extra });

const scenarios = {
  // Polling first, then the upgrade to WebSocket; an ack round trip on each side of it.
  async upgrade() {
    const socket = connect("", { transports: ["polling", "websocket"] });
    let first;
    socket.io.on("open", () => { first = socket.io.engine.transport.name; });
    await once(socket, "connect");
    const engine = socket.io.engine;
    report("connected", { id: socket.id, transport: first });
    const before = await socket.timeout(5000).emitWithAck("echo", "before");
    report("echo", { value: before, transport: engine.transport.name });
    if (engine.transport.name !== "websocket") await once(engine, "upgrade");
    report("upgraded", { transport: engine.transport.name });
    const after = await socket.timeout(5000).emitWithAck("echo", "after");
    report("echo", { value: after, transport: engine.transport.name });
    socket.disconnect();
    done();
  },

  // WebSocket only, with a query and extra headers: the server's view of the handshake (asked for by
  // the "handshake" event), an ack round trip, and the 101's Server header (Kestrel's HTTP layer sends
  // one, Duplex's connection-level fast path does not). The ws socket exists as soon as io() returns.
  async "handshake-view"() {
    const socket = connect("", {
      transports: ["websocket"],
      query: { token: "abc", "two words": "a+b é", empty: "" },
      extraHeaders: { "x-duplex-test": "yes", "x-list": "one, two" },
    });
    let upgrade = null;
    socket.io.engine.transport.ws.once("upgrade", (res) => { upgrade = { server: res.headers.server || null }; });
    await once(socket, "connect");
    const view = await socket.timeout(5000).emitWithAck("handshake");
    const echo = await socket.timeout(5000).emitWithAck("echo", { n: 1 });
    report("handshake", { upgrade, view, echo, transport: socket.io.engine.transport.name });
    socket.disconnect();
    done();
  },

  // WebSocket only, no polling at all.
  async websocket() {
    const socket = connect("", { transports: ["websocket"] });
    await once(socket, "connect");
    report("connected", { id: socket.id, transport: socket.io.engine.transport.name });
    const value = await socket.timeout(5000).emitWithAck("echo", { hello: "world", n: 42 });
    report("echo", { value });
    socket.disconnect();
    done();
  },

  // Acks both ways: the client asks the server; the server (on connect) asks the client.
  async acks() {
    const socket = connect();
    socket.on("ask", (question, callback) => {
      report("asked", { question });
      callback({ answer: question.a * question.b });
    });
    const result = once(socket, "asked-result");
    await once(socket, "connect");
    const sum = await socket.timeout(5000).emitWithAck("add", { a: 2, b: 3 });
    report("sum", { sum });
    const [server] = await result;
    report("server-got", { server });
    socket.disconnect();
    done();
  },

  // WebSocket only: what the handshake agreed (ws' negotiated extensions), then a large echo over it.
  async deflate() {
    const socket = connect("", { transports: ["websocket"] });
    await once(socket, "connect");
    const extensions = socket.io.engine.transport.ws.extensions || "";
    const big = "x".repeat(4000) + "é";
    const back = await socket.timeout(5000).emitWithAck("echo", big);
    report("deflate", { extensions, echoed: back === big });
    socket.disconnect();
    done();
  },

  // The server sends a burst of volatile events, then ordinary ones: what arrives of each.
  async "volatile-burst"() {
    const socket = connect("", { transports: options.transports || ["websocket"] });
    const counts = { volatile: 0, regular: 0 };
    socket.on("v", () => counts.volatile++);
    socket.on("n", () => counts.regular++);
    await once(socket, "connect");
    const ended = once(socket, "burst-end");
    socket.emit("burst", options.burst || {});
    await ended;
    report("burst", { ...counts, transport: socket.io.engine.transport.name });
    socket.disconnect();
    done();
  },

  // WebSocket with permessage-deflate: the RSV1 bit of each large frame the server sends, read from the
  // raw TCP bytes under ws (server frames are unmasked), for an emit with compress(false) and one without.
  async "compress-flag"() {
    const socket = connect("", { transports: ["websocket"] });
    await once(socket, "connect");
    const ws = socket.io.engine.transport.ws;
    const frames = [];
    let pending = Buffer.alloc(0);
    ws._socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        let length = pending[1] & 0x7f, offset = 2;
        if (length === 126) { if (pending.length < 4) return; length = pending.readUInt16BE(2); offset = 4; }
        else if (length === 127) { if (pending.length < 10) return; length = Number(pending.readBigUInt64BE(2)); offset = 10; }
        if (pending.length < offset + length) return;
        frames.push({ opcode: pending[0] & 0x0f, rsv1: (pending[0] & 0x40) !== 0, length });
        pending = pending.subarray(offset + length);
      }
    });
    const payloads = [];
    socket.on("payload", (text) => payloads.push(text.length));
    const ended = once(socket, "payload-end");
    socket.emit("send-payloads");
    await ended;
    report("frames", { extensions: ws.extensions, payloads, large: frames.filter((f) => f.opcode === 1 && (f.rsv1 || f.length > 200)).map((f) => f.rsv1) });
    socket.disconnect();
    done();
  },

  // Two of three clients join a room; its size as the server counts it, before and after one leaves.
  async "room-size"() {
    const sockets = [connect(), connect(), connect()];
    await Promise.all(sockets.map((s) => once(s, "connect")));
    await sockets[0].timeout(5000).emitWithAck("join-room", "lobby");
    await sockets[1].timeout(5000).emitWithAck("join-room", "lobby");
    const both = await sockets[2].timeout(5000).emitWithAck("room-size", "lobby");
    sockets[1].disconnect();
    await new Promise((r) => setTimeout(r, 300));
    const one = await sockets[2].timeout(5000).emitWithAck("room-size", "lobby");
    const none = await sockets[2].timeout(5000).emitWithAck("room-size", "nowhere");
    report("sizes", { both, one, none });
    sockets.forEach((s) => s.disconnect());
    done();
  },

  // Two clients asked at once by a broadcast with acks: one answers, one stays silent (the server's wait times out).
  async "partial-acks"() {
    const [a, b] = [connect(), connect()];
    await Promise.all([once(a, "connect"), once(b, "connect")]);
    a.on("poll", (callback) => callback("yes-a"));
    b.on("poll", () => {}); // never answers
    const outcome = await a.timeout(10000).emitWithAck("start-poll");
    report("outcome", { outcome });
    a.disconnect();
    b.disconnect();
    done();
  },

  // Three clients: two join a room, one speaks to it; then a broadcast to all and one to all but the sender.
  async rooms() {
    const names = ["alice", "bob", "carol"];
    const sockets = names.map(() => connect());
    const received = Object.fromEntries(names.map((n) => [n, []]));
    sockets.forEach((s, i) => s.onAny((event, ...args) => received[names[i]].push([event, ...args])));
    await Promise.all(sockets.map((s) => once(s, "connect")));
    await sockets[0].timeout(5000).emitWithAck("join-room", "lobby");
    await sockets[1].timeout(5000).emitWithAck("join-room", "lobby");
    await sockets[0].timeout(5000).emitWithAck("say", "lobby", "hi room");
    await sockets[2].timeout(5000).emitWithAck("shout", "hi all");
    await sockets[2].timeout(5000).emitWithAck("others", "hi others");
    await new Promise((r) => setTimeout(r, 300));
    report("received", { received });
    sockets.forEach((s) => s.disconnect());
    done();
  },

  // Binary both ways: top-level and nested buffers, in an event and in its ack.
  async binary() {
    const socket = connect();
    const gotServerBinary = new Promise((resolve) => socket.on("server-binary", (data, meta) => resolve({ data: [...data], meta: { name: meta.name, payload: [...meta.payload] } })));
    await once(socket, "connect");
    report("connected", { transport: socket.io.engine.transport.name });
    const reply = await socket.timeout(5000).emitWithAck("upload", Buffer.from([1, 2, 3, 255]), { name: "file", payload: Buffer.from("héllo") });
    report("reply", { length: reply.length, bytes: [...reply.reversed], nested: reply.nested.toString() });
    report("server-binary", await gotServerBinary);
    socket.disconnect();
    done();
  },

  // Values of every JSON kind (and undefined) go to the server and come back in its ack; what JS sees back.
  async values() {
    const socket = connect();
    await once(socket, "connect");
    const sent = ["text", "é✓ \u{1F600}", "x".repeat(300), 0, 42, -7, -300000, 1.5, -0.25, 2 ** 40, null, true, false,
      { nested: { a: [1, { b: null }], s: "in" } }, [1, "two", [3]], undefined];
    const back = await new Promise((resolve, reject) =>
      socket.timeout(5000).emit("echo-all", ...sent, (err, ...args) => err ? reject(err) : resolve(args)));
    const kinds = back.map((v) => v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" && Number.isInteger(v) ? "integer" : typeof v);
    report("values", { back, kinds, same: JSON.stringify(back) === JSON.stringify(sent.map((v) => v === undefined ? null : v)) });
    socket.disconnect();
    done();
  },

  // The server's catch-all and outgoing listeners: a broadcast, an emit with binary and one with an ack
  // reach this client, and the server reports what its listeners saw.
  async "catch-all"() {
    const socket = connect();
    const got = [];
    socket.onAny((event) => got.push(event));
    socket.on("question", (callback) => callback("answer"));
    await once(socket, "connect");
    await socket.timeout(5000).emitWithAck("shout", "hi all");
    await socket.timeout(5000).emitWithAck("push-me");
    const log = await socket.timeout(5000).emitWithAck("catch-all-log");
    report("log", { log, got });
    socket.disconnect();
    done();
  },

  // The server socket's per-packet middleware: one event rewritten, one rejected (its ack never comes),
  // one held by an awaiting middleware; the rejections come back as "rejected" events.
  async "packet-middleware"() {
    const socket = connect();
    const rejected = [];
    const twoRejections = new Promise((resolve) => socket.on("rejected", (message) => { rejected.push(message); if (rejected.length === 2) resolve(); }));
    await once(socket, "connect");
    const upper = await socket.timeout(5000).emitWithAck("echo", "hello");
    socket.emit("forbidden", 1);
    let answered = true;
    try { await socket.timeout(1000).emitWithAck("forbidden", 2); } catch { answered = false; }
    const slow = await socket.timeout(5000).emitWithAck("echo", "slow");
    await twoRejections;
    const log = await socket.timeout(5000).emitWithAck("middleware-log");
    report("middleware", { upper, slow, answered, rejected, log });
    socket.disconnect();
    done();
  },

  // Middleware refusal and unknown namespaces, as connect_error.
  async refused() {
    const socket = connect(options.path || "", { auth: options.auth });
    const [err] = await once(socket, "connect_error");
    report("connect_error", { message: err.message, data: err.data });
    socket.disconnect();
    done();
  },

  // A namespace other than the main one, with auth seen by the server.
  async namespace() {
    const socket = connect(options.path, { auth: options.auth });
    const welcomed = once(socket, "welcome");
    await once(socket, "connect");
    const [welcome] = await welcomed;
    report("welcome", { welcome });
    socket.disconnect();
    done();
  },

  // The server disconnects the client; the client reports the reason it saw.
  async kicked() {
    const socket = connect("", { transports: options.transports || ["polling", "websocket"] });
    await once(socket, "connect");
    report("connected");
    socket.emit("kick-me");
    const [reason] = await once(socket, "disconnect");
    report("disconnect", { reason });
    done();
  },
};

if (!scenarios[scenario]) fail("unknown scenario " + scenario);
scenarios[scenario]().catch(fail);
