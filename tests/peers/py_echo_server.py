"""A python websockets server for the Duplex client: echoes every message with its type and reports
what it saw as JSON lines on stdout. First line: {"port": N}; then one {"event": "close", ...} per
connection that ends.

    /usr/bin/python3 py_echo_server.py

Text commands: "handshake?" answers with the request's path, headers and subprotocol; "close-me"
closes with 4002; "fragments-please" sends one text message in three fragments.
"""
import asyncio
import json

import websockets


def emit(obj):
    print(json.dumps(obj, ensure_ascii=False), flush=True)


async def handler(ws):
    try:
        async for message in ws:
            if message == "handshake?":
                await ws.send(json.dumps({
                    "path": ws.path,
                    "subprotocol": ws.subprotocol,
                    "headers": {k.lower(): v for k, v in ws.request_headers.raw_items()},
                }))
            elif message == "close-me":
                await ws.close(4002, "python closing ✓")
            elif message == "fragments-please":
                # An iterable is sent as one fragmented message.
                await ws.send(iter(["one ", "two ✓", " three"]))
            else:
                await ws.send(message)
    except websockets.ConnectionClosed:
        pass
    emit({"event": "close", "code": ws.close_code, "reason": ws.close_reason})


async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=64 * 1024 * 1024,
                                subprotocols=["duplex.v2"], close_timeout=5) as server:
        emit({"port": server.sockets[0].getsockname()[1]})
        # The test kills us; this only guards against being orphaned.
        await asyncio.sleep(120)


if __name__ == "__main__":
    asyncio.run(main())
