"""A small HTTP/1.1 keep-alive client on asyncio streams, for the load generator.

httpx costs ~1 ms of CPU a request in Python, as much as the server's own work on a cached page;
on a 2-core machine where client and server share the cores that would measure the client. This
one parses just what Veche sends (Content-Length or chunked bodies), keeps one connection per
simulated client, a cookie jar, and records every request's latency under an endpoint label.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np


class HTTPError(Exception):
    """The connection failed or the answer could not be read (counted as an error)."""


@dataclass
class Stats:
    """Latencies (seconds) and outcomes per endpoint label."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def record(self, label: str, seconds: float, status: int | None) -> None:
        self.latencies[label].append(seconds)
        if status is None:
            self.errors[label] += 1
        else:
            self.statuses[label][status] += 1
            if status >= 500 or status == 429:
                self.errors[label] += 1

    def summary(self, elapsed: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for label in sorted(self.latencies):
            lat = np.array(self.latencies[label]) * 1000.0
            out[label] = {
                "requests": int(lat.size),
                "errors": int(self.errors.get(label, 0)),
                "statuses": {str(k): v for k, v in sorted(self.statuses[label].items())},
                "rps": round(lat.size / elapsed, 1),
                "p50_ms": round(float(np.percentile(lat, 50)), 1),
                "p95_ms": round(float(np.percentile(lat, 95)), 1),
                "p99_ms": round(float(np.percentile(lat, 99)), 1),
                "max_ms": round(float(lat.max()), 1),
            }
        return out


class Client:
    """One simulated visitor: one keep-alive connection, its cookies, its latencies."""

    def __init__(self, host: str, port: int, stats: Stats, timeout: float = 30.0) -> None:
        self.host, self.port, self.stats, self.timeout = host, port, stats, timeout
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self._reader = self._writer = None

    async def request(
        self,
        label: str,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int | None, dict[str, str], bytes]:
        """Send one request; returns (status or None on failure, headers, body). Never raises."""
        body = urlencode(form).encode() if form is not None else b""
        if json_body is not None:
            body = json.dumps(json_body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        all_headers = {**self.headers, **(headers or {})}
        if form is not None:
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        if json_body is not None:
            all_headers["Content-Type"] = "application/json"
        if body or method in ("POST", "PUT", "DELETE"):
            all_headers["Content-Length"] = str(len(body))
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        lines += [f"{k}: {v}" for k, v in all_headers.items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        start = time.perf_counter()
        try:
            status, head, data = await asyncio.wait_for(self._exchange(raw), self.timeout)
        except (TimeoutError, HTTPError, ConnectionError, OSError, asyncio.IncompleteReadError):
            await self.close()
            self.stats.record(label, time.perf_counter() - start, None)
            return None, {}, b""
        self.stats.record(label, time.perf_counter() - start, status)
        return status, head, data

    async def _exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(raw)
        await self._writer.drain()
        status_line = await self._reader.readline()
        if not status_line:
            raise HTTPError("connection closed")
        parts = status_line.split(b" ", 2)
        status = int(parts[1])
        head: dict[str, str] = {}
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            key, value = name.strip().lower(), value.strip()
            if key == "set-cookie":
                cookie = value.split(";", 1)[0]
                cname, _, cvalue = cookie.partition("=")
                if cvalue:
                    self.cookies[cname.strip()] = cvalue.strip()
                else:
                    self.cookies.pop(cname.strip(), None)
            head[key] = value
        if head.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self._reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self._reader.readline()
                    break
                chunks.append(await self._reader.readexactly(size))
                await self._reader.readline()
            data = b"".join(chunks)
        else:
            data = await self._reader.readexactly(int(head.get("content-length", "0")))
        if head.get("connection", "").lower() == "close":
            await self.close()
        return status, head, data
