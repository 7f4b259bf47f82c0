'use strict';
// A Node `ws` server for the Duplex client: echoes every message with its type, and reports what it
// saw as JSON lines on stdout. First line: {"port": N}. Then one {"event":"close",...} per
// connection that ends.
//
//   node ws-echo-server.js
//
// Text commands: "handshake?" answers with the request's headers and the chosen subprotocol;
// "close-me" closes with 4001, "close-empty" with no code, "terminate-me" drops TCP; "ping-me" pings the client and answers "pong:<payload>" when the
// pong arrives; "fragments-please" sends a message in three fragments.
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: 64 * 1024 * 1024,
  // Picks duplex.v2 when offered; refusing the rest shows the client's offer order is not what
  // decides.
  handleProtocols: protocols => (protocols.has('duplex.v2') ? 'duplex.v2' : false),
});

wss.on('listening', () => console.log(JSON.stringify({ port: wss.address().port })));

wss.on('connection', (ws, request) => {
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      const text = data.toString();
      if (text === 'handshake?') {
        ws.send(JSON.stringify({ protocol: ws.protocol, url: request.url, headers: request.headers }));
        return;
      }
      if (text === 'close-me') {
        ws.close(4001, 'server closing ✓');
        return;
      }
      if (text === 'close-empty') {
        // No code: the close frame has an empty body (RFC 6455 §5.5.1 allows it).
        ws.close();
        return;
      }
      if (text === 'terminate-me') {
        // TCP goes away with no close frame.
        ws.terminate();
        return;
      }
      if (text === 'ping-me') {
        ws.once('pong', payload => ws.send('pong:' + payload.toString()));
        ws.ping(Buffer.from('server ping ✓'));
        return;
      }
      if (text === 'fragments-please') {
        const check = Buffer.from('✓');
        ws.send(Buffer.concat([Buffer.from('one '), check.subarray(0, 1)]), { binary: false, fin: false });
        ws.send(check.subarray(1), { fin: false });
        ws.send(Buffer.from(' three'), { fin: true });
        return;
      }
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code, reason) => console.log(JSON.stringify({ event: 'close', code, reason: reason.toString() })));
});

// The test kills us; this only guards against being orphaned.
setTimeout(() => process.exit(0), 120000).unref();
