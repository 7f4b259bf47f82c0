// A socket.io-client that stays connected and reports every event it receives, one JSON line each.
// Usage: node client.js <server-url> <name> [room,room...]
// Prints {"step":"ready","id":...} once connected and in its rooms; {"step":"event","event":...,"args":[...]}
// per event (Buffers as {"type":"Buffer","data":[...]}). Lines on stdin are JSON commands:
// {"emit":"say","args":["r","hi"]} (acked, prints {"step":"acked",...}). Exits when stdin closes.
"use strict";
const { io } = require("socket.io-client");
const [url, name, rooms] = process.argv.slice(2);
const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const socket = io(url, { transports: ["websocket"], query: { name }, reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 1000 });
socket.onAny((event, ...args) => {
  if (event === "tick") {
    // Latency of a cross-node broadcast: the sender put its monotonic clock (ns) in the second argument.
    const now = process.hrtime.bigint();
    print({ step: "tick", n: args[0], latencyUs: Number((now - BigInt(args[1])) / 1000n) });
    return;
  }
  print({ step: "event", event, args });
});
socket.on("question", (from, ack) => ack({ answer: name, from }));
let first = true;
socket.on("connect", async () => {
  for (const room of (rooms || "").split(",").filter(Boolean)) await socket.timeout(10000).emitWithAck("join", room);
  print({ step: first ? "ready" : "reconnected", id: socket.id });
  first = false;
});
socket.on("disconnect", (reason) => print({ step: "disconnect", reason }));
socket.on("connect_error", (e) => print({ step: "connect_error", message: e.message }));
let buffer = "";
process.stdin.on("data", async (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    if (!line.trim()) continue;
    const command = JSON.parse(line);
    try {
      const result = await socket.timeout(10000).emitWithAck(command.emit, ...(command.args || []));
      print({ step: "acked", emit: command.emit, result });
    } catch (e) {
      print({ step: "ack-failed", emit: command.emit, message: e.message });
    }
  }
});
process.stdin.on("end", () => { socket.disconnect(); setTimeout(() => process.exit(0), 50); });
