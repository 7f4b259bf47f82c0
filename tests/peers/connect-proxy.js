'use strict';
// An HTTP CONNECT proxy for the client's proxy tests (loopback only): tunnels CONNECT host:port to
// that address and nothing else. With --auth user:pass it demands Basic Proxy-Authorization (407
// otherwise). Prints {"port": N} when listening, then one JSON line per tunnel asked for.
const http = require('http');
const net = require('net');

const args = process.argv.slice(2);
const auth = args.includes('--auth') ? args[args.indexOf('--auth') + 1] : null;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const server = http.createServer((req, res) => { res.writeHead(405); res.end('CONNECT only\n'); });
server.on('connect', (req, client, head) => {
  const given = req.headers['proxy-authorization'] || '';
  const ok = !auth || given === 'Basic ' + Buffer.from(auth).toString('base64');
  say({ event: 'connect', target: req.url, authorized: ok, hadCredentials: given !== '' });
  if (!ok) {
    client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const [host, port] = req.url.startsWith('[') ? [req.url.slice(1, req.url.indexOf(']')), req.url.slice(req.url.indexOf(']') + 2)] : req.url.split(':');
  const upstream = net.connect(Number(port), host, () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head && head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
  client.on('error', () => upstream.destroy());
});
server.listen(0, '127.0.0.1', () => say({ port: server.address().port }));
