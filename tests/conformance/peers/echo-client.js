// Control peer for the fuzzing server: Node's `ws` as an echo client.
// usage: node echo-client.js URL
// Echoes every message unchanged and with the same type until the server closes, then exits.
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', '..', 'peers', 'node_modules', 'ws'));

const socket = new WebSocket(process.argv[2]);
socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
socket.on('close', (code) => process.exit(0));
// Protocol errors are expected; ws closes the connection itself and 'close' follows.
socket.on('error', (error) => console.error(`ws client error: ${error.message}`));
