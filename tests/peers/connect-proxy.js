'use strict';
// An HTTP proxy for the clients' proxy tests (loopback only): tunnels CONNECT host:port to that
// address, and forwards absolute-form requests (GET http://host/path, as HTTP clients send plain http://
// requests to a proxy). With --auth user:pass it demands Basic Proxy-Authorization (407 otherwise).
// Prints {"port": N} when listening, then one JSON line per tunnel or forwarded request.
const http = require('http');
const net = require('net');

const args = process.argv.slice(2);
const auth = args.includes('--auth') ? args[args.indexOf('--auth') + 1] : null;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const authorized = (req) => !auth || req.headers['proxy-authorization'] === 'Basic ' + Buffer.from(auth).toString('base64');

const server = http.createServer((req, res) => {
  say({ event: 'forward', method: req.method, url: req.url, authorized: authorized(req) });
  if (!authorized(req)) { res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="test"' }); res.end(); return; }
  let target;
  try { target = new URL(req.url); } catch { res.writeHead(400); res.end('absolute-form only\n'); return; }
  const headers = { ...req.headers };
  delete headers['proxy-authorization'];
  delete headers['proxy-connection'];
  const upstream = http.request({ host: target.hostname, port: target.port || 80, method: req.method, path: target.pathname + target.search, headers }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => { res.writeHead(502); res.end(); });
  req.pipe(upstream);
});
server.on('connect', (req, client, head) => {
  const given = req.headers['proxy-authorization'] || '';
  const ok = authorized(req);
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
