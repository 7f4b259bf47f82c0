// The real npm socket.io server (4.8.x) the Duplex C# client tests connect to.
// Usage: node server.js [json-options]
//   options: { pingInterval, pingTimeout, transports, recovery (bool), maxHttpBufferSize, parser ("msgpack") }
// Listens on 127.0.0.1 on a free port and prints {"ready":true,"port":N} once listening.
// Exits by itself when stdin closes (the test process went away) or after 5 minutes at most.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const options = process.argv[2] ? JSON.parse(process.argv[2]) : {};
const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: options.pingInterval || 25000,
  pingTimeout: options.pingTimeout || 20000,
  transports: options.transports || ["polling", "websocket"],
  maxHttpBufferSize: options.maxHttpBufferSize || 1e6,
  ...(options.parser === "msgpack" ? { parser: require("socket.io-msgpack-parser") } : {}),
  ...(options.recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true } } : {}),
});

// Emits the C# client made while disconnected land here, whichever socket carried them.
const records = [];
let connections = 0;

// The main namespace refuses a handshake whose auth asks for it, with data, as middleware does.
io.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.refuse) {
    const err = new Error("not authorized");
    err.data = { code: 42, reason: "refused by middleware" };
    return next(err);
  }
  next();
});

const attempts = new Map();
io.on("connection", (socket) => {
  connections++;
  socket.on("echo", (...args) => {
    const callback = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (callback) callback(...args);
    else socket.emit("echoed", ...args);
  });
  socket.on("hang", () => { /* never acknowledges */ });
  socket.on("auth", (callback) => callback(socket.handshake.auth, connections));
  socket.on("transport", (callback) => callback(socket.conn.transport.name));
  socket.on("first-transport", (callback) => callback(socket.handshake.query.transport));
  // Counts the attempts per key; acknowledges from the `needed`-th on (retries), or drops the
  // transport on the first attempt when `drop` is set.
  socket.on("flaky", (key, needed, drop, callback) => {
    const n = (attempts.get(key) || 0) + 1;
    attempts.set(key, n);
    if (n >= needed) callback(n);
    else if (drop) socket.conn.close();
  });
  socket.on("attempts", (key, callback) => callback(attempts.get(key) || 0));
  socket.on("record-ack", (value, callback) => { records.push(value); callback(value); });
  socket.on("binary", (data, meta, callback) => {
    // Buffers come back reversed, and once more nested in an object, to prove both directions.
    const reversed = Buffer.from(data).reverse();
    callback(reversed, { length: data.length, name: meta && meta.name, copy: Buffer.from(data) });
  });
  socket.on("send-binary", () => socket.emit("binary-back", Buffer.from([1, 2, 3, 250]), { inner: Buffer.from("hi") }));
  socket.on("join", (room, callback) => { socket.join(room); callback(true); });
  socket.on("to-room", (room, message) => io.to(room).emit("room-message", room, message));
  socket.on("ask", () => {
    socket.timeout(5000).emit("question", { a: 6, b: 7 }, (err, answer) => {
      socket.emit("answer", err ? { error: err.message } : answer);
    });
  });
  socket.on("disconnect-me", () => socket.disconnect());
  socket.on("drop-transport", () => socket.conn.close());
  socket.on("record", (value) => records.push(value));
  socket.on("records", (callback) => callback(records));
  socket.on("clear-records", (callback) => { records.length = 0; callback(true); });

  if (options.recovery) {
    socket.emit("welcome", { recovered: socket.recovered, id: socket.id });
    // A broadcast, so the server persists it and gives it an offset the client remembers.
    if (!socket.recovered) io.emit("hello", "first");
    socket.on("drop-and-miss", () => {
      socket.once("disconnect", () => io.emit("missed", "while-away"));
      socket.conn.close();
    });
  }
});

const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  const err = new Error("bad token");
  err.data = { token: socket.handshake.auth && socket.handshake.auth.token || null };
  next(err);
});
admin.on("connection", (socket) => {
  socket.on("whoami", (callback) => callback({ nsp: socket.nsp.name, id: socket.id }));
  socket.emit("admin-welcome", "hello admin");
});

io.of("/chat").on("connection", (socket) => {
  socket.on("whoami", (callback) => callback({ nsp: socket.nsp.name, id: socket.id }));
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ ready: true, port: httpServer.address().port }) + "\n");
});

const stop = () => { io.close(); process.exit(0); };
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
setTimeout(stop, 5 * 60 * 1000).unref();
