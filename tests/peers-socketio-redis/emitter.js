// Publishes through @socket.io/redis-emitter (a process that is not a server), then exits.
// Usage: node emitter.js <redis-port> <room|-> <event> <text>
"use strict";
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");
const [redisPort, room, event, text] = process.argv.slice(2);
(async () => {
  const client = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  await client.connect();
  const emitter = new Emitter(client);
  const target = room === "-" ? emitter : emitter.to(room);
  target.emit(event, { from: "emitter", text, bytes: Buffer.from([9, 8, 7]) });
  if (room !== "-") emitter.in(room).socketsJoin("joined-by-emitter");
  await client.quit();
  console.log(JSON.stringify({ step: "done" }));
})().catch((e) => { console.error(e); process.exit(1); });
