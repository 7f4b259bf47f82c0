'use strict';
// Node `ws` with permessage-deflate on, for the Duplex compression tests.
//   node ws-deflate.js server        echo server; prints {"port": N}, then {"extensions": "..."} per connection
//                                    and {"message": length, "bytesRead": N} per message
//   node ws-deflate.js client URL    sends a mix of messages, checks each echo, prints one JSON result
const crypto = require('crypto');
const { WebSocket, WebSocketServer } = require('ws');

const mode = process.argv[2];
if (mode === 'server') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
  wss.on('listening', () => console.log(JSON.stringify({ port: wss.address().port })));
  wss.on('connection', ws => {
    console.log(JSON.stringify({ extensions: ws.extensions }));
    ws.on('message', (data, isBinary) => {
      // What the message cost on the wire so far: a compressed one costs far less than its length.
      console.log(JSON.stringify({ message: data.length, bytesRead: ws._socket.bytesRead }));
      ws.send(data, { binary: isBinary });
    });
  });
} else if (mode === 'client') {
  const ws = new WebSocket(process.argv[3], { perMessageDeflate: { threshold: 0 } });
  const messages = [
    { data: 'hello '.repeat(5000), binary: false },
    { data: crypto.randomBytes(100 * 1024), binary: true },
    { data: 'x', binary: false },
    { data: '☃ '.repeat(20000), binary: false },
    { data: Buffer.alloc(1024 * 1024), binary: true },
  ];
  const result = { extensions: null, echoed: 0, mismatches: [] };
  let next = 0;
  const timer = setTimeout(() => { result.error = 'timeout'; finish(); }, 20000);
  function finish() {
    clearTimeout(timer);
    console.log(JSON.stringify(result));
    ws.close(1000, 'done');
  }
  ws.on('open', () => {
    result.extensions = ws.extensions;
    for (const m of messages) ws.send(m.data, { binary: m.binary });
  });
  ws.on('message', (data, isBinary) => {
    const expected = messages[next++];
    const same = isBinary === expected.binary &&
      Buffer.compare(Buffer.isBuffer(data) ? data : Buffer.from(data), Buffer.from(expected.data)) === 0;
    if (same) result.echoed++; else result.mismatches.push(next - 1);
    if (next === messages.length) finish();
  });
  ws.on('error', e => { result.error = e.message; finish(); });
} else {
  console.error('usage: ws-deflate.js server | client URL');
  process.exit(2);
}
