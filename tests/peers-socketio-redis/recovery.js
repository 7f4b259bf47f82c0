// Connection state recovery with the real npm socket.io-client. Usage: node recovery.js <server-url>
// Connects (websocket), joins room "r", then obeys stdin lines: "close" drops the transport the way a
// network failure would; "reconnect" connects again (sending its pid and last offset, as the client
// does by itself); "reconnect <url>" does so to another server (of the same cluster). Prints {"step":"connected","id","recovered"}, {"step":"event",...}, {"step":"closed","reason"}.
"use strict";
const { io } = require("socket.io-client");
const [url] = process.argv.slice(2);
const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
socket.onAny((event, ...args) => print({ step: "event", event, args }));
socket.on("connect", async () => {
  print({ step: "connected", id: socket.id, recovered: !!socket.recovered });
  if (!socket.recovered) {
    await socket.timeout(10000).emitWithAck("join", "r");
    print({ step: "joined" });
  }
});
socket.on("disconnect", (reason) => print({ step: "closed", reason }));
socket.on("connect_error", (e) => print({ step: "connect_error", message: e.message }));
let buffer = "";
process.stdin.on("data", (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, nl).trim();
    buffer = buffer.slice(nl + 1);
    if (line === "close") socket.io.engine.close();
    else if (line === "reconnect") socket.connect();
    else if (line.startsWith("reconnect ")) { socket.io.uri = line.slice("reconnect ".length); socket.connect(); }
  }
});
process.stdin.on("end", () => { socket.disconnect(); setTimeout(() => process.exit(0), 50); });
