// Control peer for the fuzzing client, chapters 12/13: Node's `ws` as an echo server on 127.0.0.1
// with permessage-deflate enabled (RFC 7692).
// usage: node echo-server-deflate.js PORT
// Every message goes back unchanged and with the same type. `threshold: 0` makes ws compress every
// message, however small (its default leaves messages under 1 KiB uncompressed, which RFC 7692
// allows but would leave the small cases without a compressed echo). Every other parameter is ws's
// default, so ws accepts whatever the harness offers (server_no_context_takeover, any
// server_max_window_bits) and echoes the client's parameters back.
'use strict';
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '..', '..', 'peers', 'node_modules', 'ws'));

const port = Number(process.argv[2] || 9001);
const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: { threshold: 0 } });
server.on('listening', () => console.log(`ws deflate echo server listening on 127.0.0.1:${port}`));
server.on('connection', (socket, request) => {
  console.log(`connection: offer '${request.headers['sec-websocket-extensions'] || ''}' agreed '${socket.extensions}'`);
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', (error) => console.error(`ws server error: ${error.message}`));
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
