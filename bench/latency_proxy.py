"""A TCP proxy that delays every chunk by a fixed time each way: a database on another machine.

Run: python bench/latency_proxy.py UPSTREAM_HOST UPSTREAM_PORT DELAY_MS
Listens on 127.0.0.1 (a free port, printed on the first line of stdout) until killed. Each chunk
is written `DELAY_MS` after it arrived, in order, however many are in flight (latency, not a
bandwidth limit). `load_pg.py --db-latency` puts it between the servers and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sys


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((loop.time() + delay, b""))
    await sender


async def main(host: str, port: int, delay: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(host, port)
        except OSError:
            client_w.close()
            return
        up_w.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
        client_w.get_extra_info("socket").setsockopt(6, 1, 1)
        await asyncio.gather(
            pump(client_r, up_w, delay), pump(up_r, client_w, delay), return_exceptions=True
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000))
