// A Node socket.io server with @socket.io/redis-adapter: the same chat and control API (/ctl/...)
// as examples/SocketIORedisNode, so the .NET tests drive both kinds of node alike.
// Usage: node server.js <redis-port> <name> [streams] [recovery]   → prints "listening http://127.0.0.1:PORT node NAME"
// "streams" uses @socket.io/redis-streams-adapter instead; "recovery" turns connectionStateRecovery on.
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const [redisPort, name, ...flags] = process.argv.slice(2);
const streams = flags.includes("streams");
const recovery = flags.includes("recovery");

async function main() {
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  pub.on("error", (e) => console.error("redis pub error", e.message));
  sub.on("error", (e) => console.error("redis sub error", e.message));
  await Promise.all([pub.connect(), sub.connect()]);

  const ctl = {};
  const httpServer = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const handler = ctl[url.pathname];
    if (!handler) return; // socket.io answers its own path
    try {
      const body = await handler(url.searchParams);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    } catch (e) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: String(e && e.message || e) }));
    }
  });
  const adapter = streams
    ? require("@socket.io/redis-streams-adapter").createAdapter(pub)
    : createAdapter(pub, sub, { requestsTimeout: 3000 });
  const io = new Server(httpServer, {
    adapter,
    ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true } } : {}),
  });

  io.on("connection", (socket) => {
    if (!socket.recovered) {
      socket.data.name = socket.handshake.query.name || socket.id;
      socket.data.node = name;
    }
    socket.on("join", (room, ack) => { socket.join(room); ack && ack("joined " + room); });
    socket.on("say", (room, text, ack) => {
      socket.to(room).emit("said", { from: socket.data.name, node: name, text });
      ack && ack("sent");
    });
  });
  io.on("hello", (arg, ack) => ack({ node: name, got: arg }));

  const select = (q) => {
    let op = io.except([]);
    if (q.get("room")) op = op.to(q.get("room").split(","));
    if (q.get("except")) op = op.except(q.get("except").split(","));
    return op;
  };
  ctl["/ctl/emit"] = async (q) => {
    const payload = q.get("binary") === "1" ? { node: name, bytes: Buffer.from([1, 2, 3, 250]) } : { node: name, text: q.get("text") };
    select(q).emit(q.get("event") || "news", payload);
    return { ok: true };
  };
  ctl["/ctl/fetch"] = async (q) => {
    const sockets = await select(q).fetchSockets();
    return { sockets: sockets.map((s) => ({ id: s.id, local: !!s.conn, rooms: [...s.rooms], data: s.data, address: s.handshake && s.handshake.address })) };
  };
  ctl["/ctl/emit-ack"] = async (q) => {
    try {
      const answers = await select(q).timeout(Number(q.get("timeoutMs") || 5000)).emitWithAck(q.get("event") || "question", name);
      return { answers };
    } catch (e) {
      return { timeout: true, error: e.message };
    }
  };
  ctl["/ctl/join"] = async (q) => { select(q).socketsJoin(q.get("rooms").split(",")); return { ok: true }; };
  ctl["/ctl/sse"] = async () => ({ responses: await io.serverSideEmitWithAck("hello", name) });
  ctl["/ctl/count"] = async () => ({ servers: await io.of("/").adapter.serverCount() });

  httpServer.listen(0, "127.0.0.1", () => {
    console.log(`listening http://127.0.0.1:${httpServer.address().port} node ${name}`);
  });
  const stop = () => { io.close(); pub.quit().catch(() => {}); sub.quit().catch(() => {}); setTimeout(() => process.exit(0), 200); };
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
}
main().catch((e) => { console.error(e); process.exit(1); });
