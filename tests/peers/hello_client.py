"""The smallest python websockets client: connect, send "Hello Server!", print the reply.

    /usr/bin/python3 hello_client.py <ws-url>

Debian's python3-websockets (10.4) is installed for /usr/bin/python3 only.
"""
import asyncio
import sys

import websockets


async def main(url):
    async with websockets.connect(url, open_timeout=10, close_timeout=5) as ws:
        await ws.send("Hello Server!")
        reply = await asyncio.wait_for(ws.recv(), timeout=10)
        print(reply, flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: hello_client.py <ws-url>")
    asyncio.run(asyncio.wait_for(main(sys.argv[1]), timeout=20))
