// Control peer for the fuzzing client: Node's `ws` as an echo server on 127.0.0.1.
// usage: node echo-server.js PORT
// Every message goes back unchanged and with the same type. `ws` is pinned in tests/peers.
'use strict';
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '..', '..', 'peers', 'node_modules', 'ws'));

const port = Number(process.argv[2] || 9001);
// perMessageDeflate stays off (the ws default for servers) until chapters 12/13 exist.
const server = new WebSocketServer({ host: '127.0.0.1', port });
server.on('listening', () => console.log(`ws echo server listening on 127.0.0.1:${port}`));
server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  // Protocol errors are expected (the harness sends broken frames); ws fails the connection itself.
  socket.on('error', () => {});
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
