#!/usr/bin/env python3
"""tests/support/tcp_proxy.py: a TCP forwarder on 127.0.0.1 for tests that take a dependency
away from one ugcflow process without touching the shared service: killing the forwarder
severs every connection through it, and starting it again on the same port brings the
dependency back.  Usage: tcp_proxy.py LISTEN_PORT TARGET_PORT (LISTEN_PORT 0: any; the port
is printed on stdout once listening)."""
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve(target):
    async def handle(r, w):
        try:
            tr, tw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            w.close()
            return
        await asyncio.gather(pipe(r, tw), pipe(tr, w))
    return handle


async def main():
    listen, target = int(sys.argv[1]), int(sys.argv[2])
    srv = await asyncio.start_server(await serve(target), "127.0.0.1", listen, reuse_address=True)
    print(srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()


asyncio.run(main())
