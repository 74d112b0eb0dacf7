"""``videojury study serve``: the rating web app (Starlette on uvicorn).

Pages and what guards them:

* ``GET /r/{token}`` - instructions, then the rater's current item, then the
  end page. The current item is the first one without an answer, so a
  reload or a restarted server resumes where the rater left off. Showing
  an item records a nonce and the time it was first shown.
* ``POST /r/{token}/start`` and ``POST /r/{token}/answer`` - JSON bodies
  only, with the page's ``X-CSRF-Token`` header (an HMAC of the rater's
  token under the study's secret) and, when the browser sends one, an
  ``Origin`` equal to the server's own. An answer must name the item shown
  (sequence number and nonce), answer every dimension with an allowed value
  and come no sooner than the minimum viewing time; it is committed
  (SQLite WAL, ``synchronous=FULL``) before the reply. A repeated POST of
  an answered item is acknowledged without writing anything.
* ``GET /r/{token}/video/{id}`` - only videos in that rater's schedule, by
  number (never a path), with HTTP range support for the video element.
* ``GET /admin/{token}`` and ``/admin/{token}/status.json`` - progress and
  live agreement, with the study's admin token.

Unknown tokens, paths and videos get 404; failed CSRF checks 403. Every
response carries ``Referrer-Policy: no-referrer`` (tokens are in the URL),
a same-origin Content-Security-Policy and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InputError, require
from .create import ACR_LABELS, PAIR_CHOICES
from .store import connect, read_config, read_meta

__all__ = ["build_app", "serve_study", "ServerThread"]

HERE = Path(__file__).parent
MAX_BODY = 8192
_SLACK = 0.25  # seconds of clock slack on the minimum viewing time


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two strings, any characters (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


class Study:
    """Shared state of one served study: config, secret, a write lock, one connection per thread."""

    def __init__(self, folder: str | Path, *, min_view: float | None = None):
        self.folder = Path(folder)
        con = connect(self.folder)
        try:
            self.config = read_config(con)
            self.admin_token = read_meta(con, "admin_token")
            self.secret = bytes.fromhex(read_meta(con, "secret"))
        finally:
            con.close()
        if min_view is not None:
            if not (min_view >= 0 and math.isfinite(min_view)):
                raise InputError(f"--min-view must be a number of seconds >= 0, got {min_view}")
            self.config["min_view"] = float(min_view)
        self.lock = threading.Lock()
        self._local = threading.local()

    @property
    def db(self):
        con = getattr(self._local, "con", None)
        if con is None:
            con = connect(self.folder)
            self._local.con = con
        return con

    def csrf(self, token: str) -> str:
        return hmac.new(self.secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:40]

    def rater(self, token: str):
        row = self.db.execute("SELECT rater, started_at FROM raters WHERE token=?", (token,)).fetchone()
        return row

    def progress(self, rater: str) -> tuple[int, int]:
        done = self.db.execute("SELECT COUNT(DISTINCT seq) FROM answers WHERE rater=?", (rater,)).fetchone()[0]
        total = self.db.execute("SELECT COUNT(*) FROM items WHERE rater=?", (rater,)).fetchone()[0]
        return int(done), int(total)


LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def build_app(folder: str | Path, *, min_view: float | None = None, allowed_hosts: list[str] | None = None):
    """The Starlette application serving the study in ``folder``.

    ``allowed_hosts`` limits the ``Host`` header (default: loopback names
    only, which stops DNS-rebinding pages from reaching a local server);
    ``["*"]`` accepts any.
    """
    # The folder is the user's input: checked (one clear message) before the extra is.
    st = Study(folder, min_view=min_view)
    require("starlette", "study", "videojury study serve")
    require("jinja2", "study", "videojury study serve")
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
    from starlette.templating import Jinja2Templates

    from ..human import reliability  # noqa: F401 - imported now, not on the first admin request
    from . import results  # noqa: F401

    cfg = st.config
    pair = cfg["protocol"] == "pairwise"
    dims = cfg["dimensions"]
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(acr_labels=ACR_LABELS, title=cfg["title"])

    def _rater_or_404(token: str):
        row = st.rater(token)
        if row is None:
            raise HTTPException(404, "unknown link")
        return row

    def _check_post(request, token: str) -> None:
        # Content type first: a cross-site form can only send form encodings or text/plain.
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise HTTPException(403, "JSON only")
        sent = request.headers.get("x-csrf-token", "")
        if not _same(sent, st.csrf(token)):
            raise HTTPException(403, "missing or wrong CSRF token")
        origin = request.headers.get("origin")
        # Host part only: behind a TLS proxy the browser's scheme is https, ours http.
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
            raise HTTPException(403, "cross-origin request")
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise HTTPException(403, "cross-site request")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise HTTPException(413, "body too large")

    async def _json(request) -> dict:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(413, "body too large")
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise HTTPException(400, "body is not JSON") from None
        if not isinstance(data, dict):
            raise HTTPException(400, "body must be a JSON object")
        return data

    def _video_info(vid: int) -> dict:
        row = st.db.execute("SELECT label, prompt FROM videos WHERE id=?", (vid,)).fetchone()
        return {"label": row[0], "prompt": row[1]}

    def rater_page(request):
        token = request.path_params["token"]
        rater, started = _rater_or_404(token)
        done, total = st.progress(rater)
        base = {"request": request, "rater": rater, "total": total, "done": done, "pair": pair,
                "dimensions": dims, "min_view": cfg["min_view"],
                "page_data": {"csrf": st.csrf(token), "page_url": f"/r/{token}"}}
        if started is None:
            base["page_data"].update(page="instructions", start_url=f"/r/{token}/start")
            return templates.TemplateResponse(request, "instructions.html", base)
        if done >= total:
            base["page_data"].update(page="done")
            return templates.TemplateResponse(request, "done.html", base)
        seq = done
        kind, a, b = st.db.execute("SELECT kind, a, b FROM items WHERE rater=? AND seq=?",
                                   (rater, seq)).fetchone()
        with st.lock:
            st.db.execute("INSERT OR IGNORE INTO shown VALUES (?,?,?,?)",
                          (rater, seq, secrets.token_urlsafe(12), time.time()))
        nonce = st.db.execute("SELECT nonce FROM shown WHERE rater=? AND seq=?", (rater, seq)).fetchone()[0]
        va = _video_info(a)
        prompt = va["prompt"] if cfg["show_prompt"] else None
        videos = [f"/r/{token}/video/{a}"] + ([f"/r/{token}/video/{b}"] if pair else [])
        base.update(seq=seq, videos=videos, prompt=prompt, prompt_dims=cfg["prompt_dimensions"])
        base["page_data"].update(page="item", seq=seq, nonce=nonce, dimensions=dims,
                                 protocol=cfg["protocol"], min_view=cfg["min_view"],
                                 answer_url=f"/r/{token}/answer")
        return templates.TemplateResponse(request, "item.html", base)

    async def start(request):
        token = request.path_params["token"]
        rater, _ = _rater_or_404(token)
        _check_post(request, token)
        await _json(request)
        from starlette.concurrency import run_in_threadpool

        def mark() -> None:
            with st.lock:
                st.db.execute("UPDATE raters SET started_at=? WHERE rater=? AND started_at IS NULL",
                              (time.time(), rater))

        await run_in_threadpool(mark)
        return JSONResponse({"ok": True})

    def _record(rater: str, data: dict) -> JSONResponse:
        seq, nonce, answers = data.get("seq"), data.get("nonce"), data.get("answers")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**31 \
                or not isinstance(nonce, str) or not isinstance(answers, dict):
            return JSONResponse({"ok": False, "error": "need seq (int), nonce (str) and answers (object)"}, 400)
        allowed = PAIR_CHOICES if pair else tuple(str(k) for k in ACR_LABELS)
        if set(answers) != set(dims):
            return JSONResponse({"ok": False, "error": f"answer every dimension: {', '.join(dims)}"}, 400)
        vals = {}
        for d in dims:
            v = str(answers[d]).strip().lower()
            if v not in allowed or isinstance(answers[d], bool):
                return JSONResponse({"ok": False, "error": f"{d}: answer one of {', '.join(allowed)}"}, 400)
            vals[d] = v
        con = st.db
        now = time.time()
        with st.lock:
            con.execute("BEGIN IMMEDIATE")
            try:
                shown = con.execute("SELECT nonce, shown_at FROM shown WHERE rater=? AND seq=?",
                                    (rater, seq)).fetchone()
                if shown is None or not _same(shown[0], nonce):
                    con.execute("ROLLBACK")
                    return JSONResponse({"ok": False, "error": "not the item you were shown; reload the page"}, 409)
                done = con.execute("SELECT COUNT(DISTINCT seq) FROM answers WHERE rater=?", (rater,)).fetchone()[0]
                if seq < done:
                    con.execute("ROLLBACK")
                    return JSONResponse({"ok": True, "duplicate": True})
                if seq != done:  # pragma: no cover - a nonce exists only for the current item
                    con.execute("ROLLBACK")
                    return JSONResponse({"ok": False, "error": "not the current item; reload the page"}, 409)
                waited = now - shown[1]
                if waited + _SLACK < cfg["min_view"]:
                    con.execute("ROLLBACK")
                    return JSONResponse({"ok": False, "error": f"watch for at least {cfg['min_view']:g} s"}, 409)
                con.executemany("INSERT INTO answers VALUES (?,?,?,?,?,?)",
                                [(rater, seq, d, vals[d], now, waited) for d in dims])
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        return JSONResponse({"ok": True})

    async def answer(request):
        token = request.path_params["token"]
        rater, started = _rater_or_404(token)
        _check_post(request, token)
        data = await _json(request)
        if started is None:
            return JSONResponse({"ok": False, "error": "start the study first"}, 409)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_record, rater, data)

    def video(request):
        token = request.path_params["token"]
        rater, _ = _rater_or_404(token)
        vid = request.path_params["vid"]
        if not 0 < vid < 2**31:  # SQLite integers are 64-bit; ids are small
            raise HTTPException(404, "no such video")
        owned = st.db.execute("SELECT 1 FROM items WHERE rater=? AND (a=? OR b=?) LIMIT 1",
                              (rater, vid, vid)).fetchone()
        row = st.db.execute("SELECT path FROM videos WHERE id=?", (vid,)).fetchone()
        if owned is None or row is None or not Path(row[0]).is_file():
            raise HTTPException(404, "no such video")
        return FileResponse(row[0], headers={"Cache-Control": "private, max-age=3600"})

    def _admin_or_404(request):
        if not _same(request.path_params["token"], st.admin_token or secrets.token_hex(8)):
            raise HTTPException(404, "unknown link")

    def _status() -> dict:
        from .results import agreement, study_tables

        con = st.db
        con.execute("BEGIN")
        try:
            tables = study_tables(con)
        finally:
            con.execute("COMMIT")
        raters = tables.raters.astype(object).where(tables.raters.notna(), None).to_dict("records")
        return {"protocol": cfg["protocol"], "dimensions": dims, "raters": raters,
                "n_started": sum(bool(r["started"]) for r in raters),
                "n_finished": sum(r["answered"] >= r["total"] > 0 for r in raters),
                "agreement": agreement(tables), "answers": int(len(tables.ratings) + len(tables.screening)),
                "now": time.time()}

    def admin(request):
        _admin_or_404(request)
        return templates.TemplateResponse(request, "admin.html", {"request": request, **_status()})

    def admin_status(request):
        _admin_or_404(request)
        return JSONResponse(_status())

    def not_found(request, exc):
        code = getattr(exc, "status_code", 404)
        return PlainTextResponse(f"{code}: {getattr(exc, 'detail', 'not found')}", status_code=code)

    routes = [
        Route("/r/{token}", rater_page, methods=["GET"]),
        Route("/r/{token}/start", start, methods=["POST"]),
        Route("/r/{token}/answer", answer, methods=["POST"]),
        Route("/r/{token}/video/{vid:int}", video, methods=["GET"]),
        Route("/admin/{token}", admin, methods=["GET"]),
        Route("/admin/{token}/status.json", admin_status, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    app.state.study = st
    hosts = LOOPBACK_HOSTS if allowed_hosts is None else list(allowed_hosts)
    wrapped = _SecurityHeaders(TrustedHostMiddleware(app, allowed_hosts=hosts))
    wrapped.state = app.state
    return wrapped


class _SecurityHeaders:
    """ASGI wrapper adding the same protective headers to every HTTP response."""

    HEADERS = [
        (b"content-security-policy",
         b"default-src 'self'; script-src 'self'; style-src 'self'; media-src 'self'; img-src 'self' data:; "
         b"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-resource-policy", b"same-origin"),
    ]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def wrapped(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in self.HEADERS if h[0] not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, wrapped)


def _bind(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise InputError(f"--port must be 0-65535 (0 takes a free one), got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets
    # whose proto is IPPROTO_TCP; with proto 0 every kept-alive response waits
    # ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if isinstance(exc, socket.gaierror):
            raise InputError(f"--host {host!r}: not an address of this machine ({exc.strerror or exc})") from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                         "pick another --port (0 takes a free one)") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(app, sock):
    require("uvicorn", "study", "videojury study serve")
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


def serve_study(folder: str | Path, *, host: str = "127.0.0.1", port: int = 8750,
                min_view: float | None = None, on_ready=None) -> None:
    """Serve the study until interrupted. ``on_ready(base_url, admin_url)`` is
    called once the socket listens (port 0 picks a free port)."""
    loopback = host in LOOPBACK_HOSTS
    app = build_app(folder, min_view=min_view, allowed_hosts=None if loopback else ["*"])
    sock = _bind(host, port)
    h, p = sock.getsockname()[:2]
    base = f"http://{'[' + h + ']' if ':' in h else h}:{p}"
    if on_ready is not None:
        on_ready(base, f"{base}/admin/{app.state.study.admin_token}")
    _server(app, sock).run(sockets=[sock])


class ServerThread:
    """Serve a study from a background thread on a free loopback port (tests, benchmarks).

    ``with ServerThread(folder) as srv: srv.url`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(self, folder: str | Path, *, min_view: float | None = None, host: str = "127.0.0.1"):
        self.app = build_app(folder, min_view=min_view)
        self.sock = _bind(host, 0)
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{self.sock.getsockname()[1]}"
        self.admin_url = f"{self.url}/admin/{self.app.state.study.admin_token}"
        self.server = _server(self.app, self.sock)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the study server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
