#!/usr/bin/env python3
"""A Neon-like serverless endpoint in front of PostgreSQL, for resilience tests.

- After --suspend-after seconds with no traffic on any connection, every connection is closed
  ("compute suspended").
- A connection that arrives while suspended is accepted at once, but its bytes reach PostgreSQL
  only after --wake-delay seconds ("waking").
- With --drop-every N, a random idle connection is closed every N seconds.

Usage: neon_shim.py --listen-port P --upstream-port Q [--suspend-after S] [--wake-delay W] [--drop-every N]
Listens on 127.0.0.1 only. Prints "ready" when listening; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
import time


class Shim:
    def __init__(self, args):
        self.args = args
        self.last_traffic = time.monotonic()
        self.suspended = False
        self.waking: asyncio.Task | None = None
        self.connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.idle_since: dict[int, float] = {}

    async def wake(self):
        if self.waking is None:
            self.waking = asyncio.create_task(asyncio.sleep(self.args.wake_delay))
        await self.waking
        self.suspended = False
        self.waking = None
        self.last_traffic = time.monotonic()

    async def handle(self, client_reader, client_writer):
        if self.suspended:
            print("waking", flush=True)
            await self.wake()
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.args.upstream_port)
        except OSError:
            client_writer.close()
            return
        pair = (client_writer, upstream_writer)
        self.connections.add(pair)
        self.last_traffic = time.monotonic()

        async def pump(reader, writer):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    self.last_traffic = time.monotonic()
                    self.idle_since[id(pair)] = time.monotonic()
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                for w in pair:
                    w.close()

        await asyncio.gather(pump(client_reader, upstream_writer), pump(upstream_reader, client_writer))
        self.connections.discard(pair)
        self.idle_since.pop(id(pair), None)

    async def janitor(self):
        last_drop = time.monotonic()
        while True:
            await asyncio.sleep(0.2)
            now = time.monotonic()
            if not self.suspended and self.args.suspend_after > 0 and now - self.last_traffic >= self.args.suspend_after:
                self.suspended = True
                print(f"suspending ({len(self.connections)} connections)", flush=True)
                for pair in list(self.connections):
                    for w in pair:
                        w.close()
            if self.args.drop_every > 0 and now - last_drop >= self.args.drop_every:
                last_drop = now
                idle = [p for p in self.connections if now - self.idle_since.get(id(p), now) > 1.0]
                if idle:
                    victim = random.choice(idle)
                    print("dropping an idle connection", flush=True)
                    for w in victim:
                        w.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--suspend-after", type=float, default=0)
    parser.add_argument("--wake-delay", type=float, default=0)
    parser.add_argument("--drop-every", type=float, default=0)
    args = parser.parse_args()
    shim = Shim(args)
    server = await asyncio.start_server(shim.handle, "127.0.0.1", args.listen_port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    janitor = asyncio.create_task(shim.janitor())
    print("ready", flush=True)
    async with server:
        await stop.wait()
    janitor.cancel()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
