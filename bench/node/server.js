'use strict';
// usage: node server.js [--port 8082] [--compression]
// /echo: every message back, same type. /broadcast: every message to every client on /broadcast
// (wss.clients.forEach, as the ws README shows).
const { WebSocketServer, WebSocket } = require('ws');

const args = process.argv.slice(2);
const port = Number(args.includes('--port') ? args[args.indexOf('--port') + 1] : 8082);
const compression = args.includes('--compression');
const perMessageDeflate = compression ? { threshold: 0 } : false;

const echo = new WebSocketServer({ noServer: true, perMessageDeflate, maxPayload: 64 * 1024 * 1024 });
const broadcast = new WebSocketServer({ noServer: true, perMessageDeflate, maxPayload: 64 * 1024 * 1024 });

echo.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

broadcast.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    broadcast.clients.forEach((client) => {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
  });
});

const server = require('http').createServer((req, res) => { res.writeHead(404); res.end(); });
server.on('upgrade', (req, socket, head) => {
  const target = req.url === '/echo' ? echo : req.url === '/broadcast' ? broadcast : null;
  if (!target) { socket.destroy(); return; }
  target.handleUpgrade(req, socket, head, (ws) => target.emit('connection', ws, req));
});
server.listen(port, '127.0.0.1', () =>
  console.log(`node ws ${require('ws/package.json').version} listening on 127.0.0.1:${port}${compression ? ' with permessage-deflate' : ''}`));
