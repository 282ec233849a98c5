"""Streams held open by a benchmark: an asyncio loop in a thread of its own, the arrival of
each marked event timed (bench/live.py, bench/sends.py)."""

import asyncio
import re
import threading
import time
from datetime import datetime

# A message's number, and its timestamp (set when it is saved, a millisecond or two before
# its commit).
CONTENT = re.compile(rb'"content":"live (\d+)"(?:,"timestamp":"([^"]+)")?')


class Streams:
    """Streams held by an asyncio loop in a thread; arrivals of marked events timed."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.writers = []
        self.arrivals: dict[int, float] = {}
        self.since_saved: dict[int, float] = {}

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def open(self, port: int, paths_and_headers: list[tuple[str, str]], pattern=CONTENT):
        async def one(path, headers, gate):
            async with gate:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
                status = await reader.readline()
                assert b" 200 " in status, status
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
            self.writers.append(writer)
            self.loop.create_task(self._read(reader, pattern))

        async def all_of_them():
            gate = asyncio.Semaphore(200)
            await asyncio.gather(*(one(p, h, gate) for p, h in paths_and_headers))

        started = time.monotonic()
        self.run(all_of_them())
        return time.monotonic() - started

    async def _read(self, reader, pattern):
        while chunk := await reader.read(65536):
            now, wall = time.monotonic(), time.time()
            for match in pattern.finditer(chunk):
                self.arrivals.setdefault(int(match.group(1)), now)
                if pattern.groups > 1 and match.group(2):
                    saved = datetime.fromisoformat(match.group(2).decode()).timestamp()
                    self.since_saved.setdefault(int(match.group(1)), (wall - saved) * 1000)

    def close(self):
        async def close_all():
            for writer in self.writers:
                writer.close()
            self.writers = []

        self.run(close_all())
