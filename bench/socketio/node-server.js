'use strict';
// Node socket.io 4.8.4 with the Socket.IO bench's handlers, WebSocket transport only (bench/README.md,
// "Socket.IO"). Run with NODE_ENV=production, as bench/socketio/compare.sh does.
//   node node-server.js --port 18700
const http = require('http');
const { Server } = require('socket.io');

const args = process.argv.slice(2);
const port = Number(args[args.indexOf('--port') + 1] || 0);
if (!port) { console.error('node-server.js --port P'); process.exit(1); }

const httpServer = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const io = new Server(httpServer, { transports: ['websocket'], serveClient: false });

io.on('connection', (socket) => {
  // echo: with a callback, answer it with the same arguments; without, emit them back as "echo".
  socket.on('echo', (...a) => {
    const ack = typeof a[a.length - 1] === 'function' ? a.pop() : null;
    if (ack) ack(...a); else socket.emit('echo', ...a);
  });
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack();
  });
  // bcast: to everyone in room "r" (the sender is not in it).
  socket.on('bcast', (...a) => { io.to('r').emit('bcast', ...a); });
});

httpServer.listen(port, '127.0.0.1', () => console.log(`socket.io ${require('socket.io/package.json').version} on 127.0.0.1:${port} (${process.env.NODE_ENV || 'development'})`));
process.on('SIGTERM', () => { io.close(); process.exit(0); });
