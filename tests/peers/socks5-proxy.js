'use strict';
// A SOCKS5 proxy (RFC 1928, CONNECT only; RFC 1929 username/password with --auth user:pass) for the
// client's proxy tests, on loopback. Prints {"port": N} when listening, then one JSON line per
// CONNECT: the address type the client sent (1 IPv4, 3 domain name, 4 IPv6) and the target.
const net = require('net');

const args = process.argv.slice(2);
const auth = args.includes('--auth') ? args[args.indexOf('--auth') + 1].split(':') : null;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

// Reads exactly n bytes from the socket (buffering whatever arrives early), then calls back.
function reader(socket) {
  let buffered = Buffer.alloc(0);
  let want = 0, done = null;
  const pump = () => {
    if (done && buffered.length >= want) {
      const chunk = buffered.subarray(0, want);
      buffered = buffered.subarray(want);
      const d = done;
      done = null;
      d(chunk);
    }
  };
  const onData = (data) => { buffered = Buffer.concat([buffered, data]); pump(); };
  socket.on('data', onData);
  return {
    read: (n) => new Promise((resolve) => { want = n; done = resolve; pump(); }),
    release: () => { socket.off('data', onData); return buffered; },
  };
}

const server = net.createServer(async (client) => {
  client.on('error', () => {});
  const r = reader(client);
  const [version, count] = await r.read(2);
  const methods = [...(await r.read(count))];
  if (version !== 5) return client.destroy();
  const method = auth ? 2 : 0;
  if (!methods.includes(method)) { say({ event: 'refused', methods }); return client.end(Buffer.from([5, 0xff])); }
  client.write(Buffer.from([5, method]));
  if (auth) {
    const [, ulen] = await r.read(2);
    const user = (await r.read(ulen)).toString();
    const [plen] = await r.read(1);
    const pass = (await r.read(plen)).toString();
    const ok = user === auth[0] && pass === auth[1];
    client.write(Buffer.from([1, ok ? 0 : 1]));
    if (!ok) { say({ event: 'bad-credentials' }); return client.end(); }
  }
  const [, cmd, , type] = await r.read(4);
  let host;
  if (type === 1) host = [...(await r.read(4))].join('.');
  else if (type === 4) host = (await r.read(16)).toString('hex').match(/.{4}/g).join(':');
  else if (type === 3) { const [n] = await r.read(1); host = (await r.read(n)).toString(); }
  const port = (await r.read(2)).readUInt16BE(0);
  say({ event: 'connect', type, target: `${host}:${port}` });
  if (cmd !== 1) return client.end(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
  const upstream = net.connect(port, host, () => {
    client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
    const early = r.release();
    if (early.length) upstream.write(early);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])));
  client.on('close', () => upstream.destroy());
});
server.listen(0, '127.0.0.1', () => say({ port: server.address().port }));
