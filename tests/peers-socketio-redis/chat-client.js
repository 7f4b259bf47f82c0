// The seed's chat client (npm socket.io-client) for `duplex serve`: joins a room with `join-room`, then
// reports every event it receives, one JSON line each. Usage: node chat-client.js <server-url> <room>
// Prints {"step":"ready","id":...} once its own `message` came back (so its join was handled first);
// {"step":"event","event":...,"args":[...]} per event. Lines on stdin: {"emit":"message","args":["hi"]}
// (plain emits, no ack, as the seed's chat does). Exits when stdin closes.
"use strict";
const { io } = require("socket.io-client");
const [url, room] = process.argv.slice(2);
const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const socket = io(url, { transports: ["websocket"], reconnection: false });
const probe = "probe-" + Math.random().toString(36).slice(2);
let ready = false;
socket.onAny((event, ...args) => {
  if (!ready && event === "message" && args[0] === probe) {
    ready = true;
    print({ step: "ready", id: socket.id });
    return;
  }
  print({ step: "event", event, args });
});
socket.on("connect", () => {
  socket.emit("join-room", room);
  socket.emit("message", probe); // everyone gets it, the sender too: after the join
});
socket.on("connect_error", (e) => print({ step: "connect_error", message: e.message }));
let buffer = "";
process.stdin.on("data", (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    if (!line.trim()) continue;
    const command = JSON.parse(line);
    socket.emit(command.emit, ...(command.args || []));
  }
});
process.stdin.on("end", () => { socket.close(); process.exit(0); });
