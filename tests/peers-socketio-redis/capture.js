// Captures what @socket.io/redis-adapter puts on Redis, byte for byte, as fixtures for the Duplex
// codec tests (tests/Duplex.SocketIO.Redis.Tests/Fixtures/node-redis-adapter.json).
//
// It starts the installed redis-server on a free loopback port, two Node socket.io servers on it
// (A, the default adapter options; B, publishOnSpecificResponseChannel) with socket.io-client
// sockets on each, pattern-subscribes a raw client to "socket.io*", then makes A (and B, once) do
// each kind of cluster operation and records every message published meanwhile: channel, bytes
// (hex) and what Node was asked to do. Everything is stopped after, and the whole run is bounded.
//
// Usage: node capture.js [output.json]
"use strict";
const fs = require("fs");
const net = require("net");
const path = require("path");
const http = require("http");
const { spawn } = require("child_process");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const output = process.argv[2] || path.join(__dirname, "../Duplex.SocketIO.Redis.Tests/Fixtures/node-redis-adapter.json");
const cleanups = [];
const deadline = setTimeout(() => fail(new Error("capture took more than 60 s")), 60000);

function fail(err) {
  console.error("capture failed:", err && err.stack || err);
  return stop().finally(() => process.exit(1));
}

async function stop() {
  clearTimeout(deadline);
  while (cleanups.length) {
    try { await cleanups.pop()(); } catch { /* stopping anyway */ }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const redis = spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "inherit"] });
  cleanups.push(() => new Promise((r) => { redis.once("exit", r); redis.kill("SIGTERM"); }));
  await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error("redis-server not ready within 10 s")), 10000);
    redis.once("exit", (code) => reject(new Error("redis-server exited with " + code)));
    redis.stdout.on("data", (chunk) => {
      seen += chunk;
      if (seen.includes("Ready to accept connections")) { clearTimeout(timer); resolve(); }
    });
  });
  return port;
}

async function redisClient(port) {
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  client.on("error", (e) => console.error("redis client error", e.message));
  await client.connect();
  cleanups.push(() => client.quit());
  return client;
}

async function startNode(redisPort, options) {
  const pub = await redisClient(redisPort);
  const sub = await redisClient(redisPort);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { requestsTimeout: 3000, ...options }) });
  io.on("connection", (socket) => {
    // What fetchSockets reports of each socket: the rooms it was put in and its data.
    const { name, rooms } = socket.handshake.query;
    socket.data = { name, n: 42 };
    if (rooms) socket.join(rooms.split(","));
  });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise((r) => { io.close(); r(); }));
  return { io, port: httpServer.address().port };
}

async function client(port, name, rooms) {
  const socket = connect(`http://127.0.0.1:${port}`, { transports: ["websocket"], query: { name, rooms }, auth: { token: "t-" + name } });
  cleanups.push(() => socket.close());
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

async function main() {
  const redisPort = await startRedis();

  const captured = [];
  const spy = await redisClient(redisPort);
  await spy.pSubscribe("socket.io*", (message, channel) => captured.push({ channel: channel.toString("utf8"), hex: message.toString("hex") }), true);

  const a = await startNode(redisPort, {});
  const b = await startNode(redisPort, { publishOnSpecificResponseChannel: true });
  // A's "/chat" adapter exists once the namespace does.
  a.io.of("/chat");
  b.io.on("sse", () => {});
  b.io.on("sse-ack", (n, ack) => ack({ got: n, node: "B" }));

  const c0 = await client(a.port, "c0", "room3");
  const c1 = await client(b.port, "c1", "room1,room2");
  const c2 = await client(b.port, "c2", "room2,room3");
  c1.on("ask", (q, bytes, ack) => ack("pong"));
  c2.on("ask-bin", (ack) => ack(Buffer.from([0xde, 0xad, 0xbe, 0xef])));
  c0.on("relay", () => {});
  // The server-side half of c0's "relay": socket.broadcast excludes the sender's own room.
  const c0OnA = [...a.io.of("/").sockets.values()][0];
  await sleep(200); // subscriptions of every adapter settle

  const messages = [];
  const silent = [];
  let stepNumber = 0;

  // Runs one operation and files what it published; `expected` describes each message, in order.
  async function step(name, node, action, expected) {
    stepNumber++;
    captured.length = 0;
    const started = Date.now();
    await action();
    const until = Date.now() + 3000;
    while (captured.length < expected.length && Date.now() < until) await sleep(20);
    await sleep(150); // anything beyond what was expected shows up too
    if (captured.length !== expected.length) {
      throw new Error(`${name}: expected ${expected.length} messages, got ${captured.length}: ${JSON.stringify(captured.map((m) => m.channel))}`);
    }
    if (process.env.CAPTURE_VERBOSE) console.error(`${name}: ${Date.now() - started} ms`);
    if (expected.length === 0) silent.push({ step: stepNumber, name, node });
    captured.forEach((m, i) => messages.push({
      name: expected[i][0],
      step: stepNumber,
      node,
      description: expected[i][1],
      channel: m.channel,
      hex: m.hex,
    }));
  }

  const A = a.io;
  const B = b.io;

  await step("broadcast-all", 'A: io.emit("hello", 1, "two", {three: 3}, [4.5, -6], null, true)',
    () => A.emit("hello", 1, "two", { three: 3 }, [4.5, -6], null, true),
    [["broadcast-all", "Broadcast to every socket: MessagePack [uid, packet, opts] on the namespace channel, no rooms, no flags."]]);

  await step("broadcast-one-room", 'A: io.to("room1").emit("to-room", "x")',
    () => A.to("room1").emit("to-room", "x"),
    [["broadcast-one-room", "Broadcast to exactly one room: published on that room's own channel."]]);

  await step("broadcast-rooms-except", 'A: io.to(["room1", "room2"]).except("room3").emit("to-rooms", 1)',
    () => A.to(["room1", "room2"]).except("room3").emit("to-rooms", 1),
    [["broadcast-rooms-except", "Broadcast to two rooms minus one: namespace channel, rooms and except in opts."]]);

  await step("broadcast-binary", 'A: io.emit("bin", Buffer [1,2,3], {nested: Buffer [255], list: [Buffer []]})',
    () => A.emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([255]), list: [Buffer.alloc(0)] }),
    [["broadcast-binary", "Broadcast with binary arguments: the buffers are MessagePack bin inline, and the packet stays type 2 (EVENT)."]]);

  await step("broadcast-volatile", 'A: io.volatile.emit("vol", 1)',
    () => A.volatile.emit("vol", 1),
    [["broadcast-volatile", "Volatile broadcast: flags {volatile: true}."]]);

  await step("broadcast-compress-false", 'A: io.compress(false).emit("nocomp", "z")',
    () => A.compress(false).emit("nocomp", "z"),
    [["broadcast-compress-false", "Broadcast without compression: flags {compress: false}."]]);

  await step("broadcast-local", 'A: io.local.emit("local", 1)',
    () => A.local.emit("local", 1),
    []);

  const widths = [127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991,
    -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, 0.5, -0.25, 1e300,
    "a".repeat(31), "b".repeat(32), "c".repeat(255), "d".repeat(256), "héllo wörld — 世界 😀"];
  const bigMap = {};
  for (let i = 0; i < 16; i++) bigMap["k" + i] = i;
  await step("broadcast-widths", 'A: io.emit("widths", ...integers at every MessagePack width boundary, floats, strings of 31/32/255/256 bytes, non-ASCII, a 16-key map)',
    () => A.emit("widths", ...widths, bigMap),
    [["broadcast-widths", "Integer, float, string, array 16 and map 16 widths as notepack.io chooses them."]]);

  await step("broadcast-namespace", 'A: io.of("/chat").emit("chat", "hi")',
    () => A.of("/chat").emit("chat", "hi"),
    [["broadcast-namespace", "Broadcast in namespace /chat: its own channel, packet nsp /chat."]]);

  await step("socket-broadcast", 'A: socket.broadcast.emit("relayed", "r") from c0',
    () => c0OnA.broadcast.emit("relayed", "r"),
    [["socket-broadcast", "socket.broadcast: every socket except the sender, whose own room is in except."]]);

  await step("broadcast-ack", 'A: io.to(c1.id).timeout(2000).emit("ask", "q1", Buffer [7], cb); c1 answers "pong"',
    () => new Promise((resolve) => A.to(c1.id).timeout(2000).emit("ask", "q1", Buffer.from([7]), () => resolve())),
    [["broadcast-ack-request", "Broadcast with acks: a MessagePack BROADCAST (7) request on the request channel, with the packet (a bin argument inline) and opts.flags.timeout."],
     ["broadcast-ack-client-count", "B's BROADCAST_CLIENT_COUNT (8) answer, JSON, on A's specific response channel (B publishes on specific channels)."],
     ["broadcast-ack-response", "B's BROADCAST_ACK (9) answer carrying c1's ack argument, MessagePack."]]);

  await step("broadcast-ack-binary", 'A: io.to(c2.id).timeout(2000).emit("ask-bin", cb); c2 answers Buffer [de ad be ef]',
    () => new Promise((resolve) => A.to(c2.id).timeout(2000).emit("ask-bin", () => resolve())),
    [["broadcast-ack-binary-request", "Broadcast with acks to one socket, no arguments."],
     ["broadcast-ack-binary-client-count", "B's client count: 1."],
     ["broadcast-ack-binary-response", "B's BROADCAST_ACK whose packet is the client's binary answer (bin)."]]);

  await step("broadcast-ack-nobody", 'A: io.to("nobody").timeout(500).emit("ask", cb)',
    () => new Promise((resolve) => A.to("nobody").timeout(500).emit("ask", () => resolve())),
    [["broadcast-ack-nobody-request", "Broadcast with acks to a room no socket is in."],
     ["broadcast-ack-nobody-client-count", "B's client count: 0."]]);

  await step("fetch-sockets", 'A: io.in("room1").except("room3").fetchSockets()',
    () => A.in("room1").except("room3").fetchSockets(),
    [["fetch-sockets-request", "REMOTE_FETCH (5) request, JSON, with opts {rooms, except}."],
     ["fetch-sockets-response", "B's answer, JSON, on A's specific response channel: c1 with its handshake, rooms and data."]]);

  await step("fetch-sockets-from-b", "B: io.fetchSockets()",
    () => B.fetchSockets(),
    [["fetch-sockets-from-b-request", "REMOTE_FETCH from B, selecting every socket."],
     ["fetch-sockets-from-b-response", "A's answer on the shared response channel (A uses the default options): c0."]]);

  await step("sockets-join", 'A: io.in("room1").socketsJoin(["room4", "room5"])',
    () => A.in("room1").socketsJoin(["room4", "room5"]),
    [["sockets-join", "REMOTE_JOIN (2), JSON: opts selects the sockets, rooms are the ones to join."]]);

  await step("sockets-leave", 'A: io.in("room4").except("room2").socketsLeave("room5")',
    () => A.in("room4").except("room2").socketsLeave("room5"),
    [["sockets-leave", "REMOTE_LEAVE (3), JSON."]]);

  await step("disconnect-sockets-close", 'A: io.in("nobody").disconnectSockets(true)',
    () => A.in("nobody").disconnectSockets(true),
    [["disconnect-sockets-close", "REMOTE_DISCONNECT (4), JSON, close true."]]);

  await step("disconnect-sockets", 'A: io.except(["room1", "room2", "room3"]).disconnectSockets()',
    () => A.except(["room1", "room2", "room3"]).disconnectSockets(),
    [["disconnect-sockets", "REMOTE_DISCONNECT (4), JSON, close false, except every client's room (so none is disconnected)."]]);

  await step("server-side-emit", 'A: io.serverSideEmit("sse", 1, {a: "b"})',
    () => A.serverSideEmit("sse", 1, { a: "b" }),
    [["server-side-emit", "SERVER_SIDE_EMIT (6) without ack, JSON, no requestId."]]);

  await step("server-side-emit-ack", 'A: io.serverSideEmitWithAck("sse-ack", 2); B answers {got: 2, node: "B"}',
    () => A.serverSideEmitWithAck("sse-ack", 2),
    [["server-side-emit-ack-request", "SERVER_SIDE_EMIT (6) with a requestId, JSON."],
     ["server-side-emit-ack-response", "B's answer on the shared response channel (always, even with publishOnSpecificResponseChannel), JSON with type 6 and data."]]);

  await step("all-rooms", "A: io.of(\"/\").adapter.allRooms()",
    () => A.of("/").adapter.allRooms(),
    [["all-rooms-request", "ALL_ROOMS (1) request, JSON."],
     ["all-rooms-response", "B's answer, JSON: every room of B (its sockets' own rooms included)."]]);

  const version = (p) => require(path.join(p, "package.json")).version;
  const fixture = {
    generator: "tests/peers-socketio-redis/capture.js",
    versions: {
      "@socket.io/redis-adapter": version("@socket.io/redis-adapter"),
      "socket.io": version("socket.io"),
      "notepack.io": version("notepack.io"),
      node: process.version,
    },
    uids: { A: A.of("/").adapter.uid, B: B.of("/").adapter.uid, "A/chat": A.of("/chat").adapter.uid },
    sockets: { c0: c0.id, c1: c1.id, c2: c2.id },
    silent,
    messages,
  };
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(output, JSON.stringify(fixture, null, 2) + "\n");
  console.log(`captured ${messages.length} messages (${silent.length} silent steps) into ${output}`);
}

main().then(() => stop().then(() => process.exit(0)), fail);
