"""Shared helpers of the study tests and benchmark: tiny clips, manifests, an HTTP rater."""

from __future__ import annotations

import csv
import http.client
import json
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from videojury.video import write_video

_DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)
_VIDEO = re.compile(r'<video src="/r/[^/"]+/video/(\d+)"')


def make_clips(folder: Path, n: int, *, frames: int = 8, size=(64, 48), fps: float = 8.0) -> list[Path]:
    """``n`` distinct tiny H.264 clips (yuv420p, so browsers play them)."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    out = []
    for k in range(n):
        rng = np.random.default_rng(k)
        base = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
        base = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))
        clip = [np.roll(base, 2 * t, axis=1) for t in range(frames)]
        out.append(write_video(folder / f"clip{k:03d}.mp4", clip, fps=fps, crf=30))
    return out


def write_manifest(path: Path, rows: list[dict]) -> Path:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return path


def tokens(folder: Path) -> dict[str, str]:
    with open(folder / "raters.csv", newline="", encoding="utf-8") as fh:
        return {r["rater"]: r["token"] for r in csv.DictReader(fh)}


class HttpRater:
    """A rater speaking plain HTTP/1.1 to the study server (one kept-alive connection)."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0):
        u = urlsplit(base_url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.timeout = timeout
        self.con = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        con = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        con.connect()
        # Headers and body go out in separate writes; without NODELAY, Nagle's
        # algorithm waits for the server's delayed ACK (40 ms a request).
        con.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return con

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """One request; a kept-alive connection the server closed is reopened once."""
        for attempt in range(2):
            try:
                if self.con is None:
                    self.con = self._connect()
                self.con.request(method, path, body=body, headers=headers or {})
                r = self.con.getresponse()
                return r.status, dict(r.getheaders()), r.read()
            except (OSError, http.client.HTTPException):
                if self.con is not None:
                    self.con.close()
                self.con = None  # a half-used connection cannot send again
                if attempt:
                    raise

    def page(self) -> dict:
        status, _, body = self.request("GET", f"/r/{self.token}")
        assert status == 200, (status, body[:200])
        html = body.decode()
        data = json.loads(_DATA.search(html).group(1))
        data["videos"] = [int(v) for v in _VIDEO.findall(html)]
        return data

    def post(self, path: str, payload: dict, csrf: str) -> tuple[int, dict]:
        status, _, body = self.request("POST", path, json.dumps(payload).encode(),
                                       {"Content-Type": "application/json", "X-CSRF-Token": csrf})
        return status, json.loads(body) if body.startswith(b"{") else {"raw": body.decode()}

    def start(self) -> None:
        d = self.page()
        if d["page"] == "instructions":
            status, _ = self.post(d["start_url"], {}, d["csrf"])
            assert status == 200

    def answer_current(self, choose) -> tuple[dict, int, dict] | None:
        """Answer the item shown with ``choose(page_data) -> {dim: value}``; None when done."""
        d = self.page()
        if d["page"] == "done":
            return None
        ans = choose(d)
        status, reply = self.post(d["answer_url"], {"seq": d["seq"], "nonce": d["nonce"], "answers": ans}, d["csrf"])
        return d, status, reply
