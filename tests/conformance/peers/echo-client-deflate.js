// Control peer for the fuzzing server, chapters 12/13: Node's `ws` as an echo client with
// permessage-deflate (RFC 7692).
// usage: node echo-client-deflate.js URL
// Echoes every message unchanged and with the same type until the server closes, then exits.
// ws offers `permessage-deflate; client_max_window_bits` (its default offer), as a client under
// Autobahn's fuzzing server would: Autobahn does not ask clients for particular offers, its cases
// only choose how to answer them. Because the offer includes client_max_window_bits, every
// acceptance of chapter 13 (client_no_context_takeover, client_max_window_bits 8 or 15) applies.
// `threshold: 0` makes ws compress every message, however small.
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', '..', 'peers', 'node_modules', 'ws'));

const socket = new WebSocket(process.argv[2], { perMessageDeflate: { threshold: 0 } });
socket.on('open', () => console.log(`agreed '${socket.extensions}'`));
socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
socket.on('close', () => process.exit(0));
// Protocol errors are expected; ws closes the connection itself and 'close' follows.
socket.on('error', (error) => console.error(`ws client error: ${error.message}`));
