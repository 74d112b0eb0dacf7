"""Hosted judges through OpenAI-compatible chat completions (``model=openai:NAME``).

``vqascore``, the level judges, ``qa`` and ``rationale_judge`` can ask any
server that speaks the chat-completions protocol (OpenAI, Gemini's
OpenAI-compatible endpoint, vLLM or SGLang serving an open judge) instead of
a local checkpoint. Options (see :data:`REMOTE_OPTIONS`):

* ``model=openai:NAME`` selects this backend and names the served model;
* ``base_url=`` the API root (default ``https://api.openai.com/v1``; the
  request goes to ``{base_url}/chat/completions``);
* ``api_key_env=`` the environment variable holding the key (default
  ``OPENAI_API_KEY``; empty for a server without keys). The key is read when
  the metric loads, sent as ``Authorization: Bearer``, and never stored,
  logged, pickled or put in the store key (error texts have it masked);
* ``frames=`` (default 8, uniform) and ``max_pixels=`` (default 512x512,
  scale-down only) choose the frames, sent in order as base64 image parts
  (``image_format=jpeg|png``, ``jpeg_quality=``, ``detail=low|high|auto``),
  after one line saying how many frames of one video follow;
* ``top_logprobs=`` (default 20) alternatives asked for each answer token;
* ``concurrency=`` requests in flight at once (default 4), ``timeout=``
  seconds per request (default 60), ``max_retries=`` (default 5) and
  ``backoff=`` (first wait, seconds, doubled each retry) for 429, 5xx,
  timeouts, dropped connections, truncated and malformed bodies. A
  ``Retry-After`` (or ``retry-after-ms``) header sets the wait instead.

Every request asks for ``temperature=0``, ``logprobs=true`` and
``top_logprobs``. How a result is read from the answer's first token (its
``top_logprobs`` entries, each entry's text stripped and case-folded):

* VQAScore: P(yes) = the sum of exp(logprob) over the entries equal to the
  yes word; ``renormalize=true`` divides by P(yes) + P(no);
* level judges: each level word's probability (a word not among the
  entries gets 0), renormalised over the five; the field ``*_mass`` reports
  the probability mass the five words had before renormalising;
* ``qa``: P(yes)/P(no) as VQAScore (``mode=logits``), or the answer text
  read by :func:`videojury.text.normalize_yes_no` (``mode=generate``);
* ``rationale_judge``: the scores read from the answer text; the soft score
  from the written digit's token alternatives (digits 1-5 renormalised).

Failures: a refused key (401/403), an unknown model or path (404) or a
server that returns no logprobs stops the metric for the run with one
message (:class:`RemoteStop`; nothing stored, so a rerun after the fix
computes the items). So does a server that is still rate limiting (429),
unavailable (502/503/504) or unreachable after the retries: the results so
far are stored, a rerun continues. A 500, another 4xx or a body that stays
truncated or malformed is an error for that video only.

Every finished result goes to the store like any score, so a rerun sends
nothing; within a run, answers are also kept in memory by request digest,
so rescoring a failed batch item by item resends nothing. The run summary
counts requests, retries and tokens (:meth:`ChatClient.counts`).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.client
import json
import math
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import MetricError

PREFIX = "openai:"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_FRAMES = 8
DEFAULT_MAX_PIXELS = 512 * 512
MAX_RETRY_AFTER = 300.0  # a server asking for a longer pause stops the run instead

# Options of the LMM metrics for this backend, with their defaults.
REMOTE_OPTIONS: dict[str, Any] = {
    "base_url": "",
    "api_key_env": "OPENAI_API_KEY",
    "top_logprobs": 20,
    "concurrency": 4,
    "timeout": 60.0,
    "max_retries": 5,
    "backoff": 1.0,
    "image_format": "jpeg",
    "jpeg_quality": 90,
    "detail": "",
}
# How they run, not what they compute: outside the store key and the label.
REMOTE_RUNTIME = frozenset({"api_key_env", "concurrency", "timeout", "max_retries", "backoff"})


def remote_name(model: str) -> str | None:
    """The served model's name for ``openai:NAME``, else None (a local checkpoint)."""
    model = (model or "").strip()
    return model[len(PREFIX):].strip() if model.startswith(PREFIX) else None


class RemoteStop(MetricError):
    """No further request of this metric can succeed in this run (key, model, logprobs)."""

    stops_metric = True  # score_batch_safely stops the metric (videojury.metrics.calling)


class RemoteItemError(MetricError):
    """One request failed for good (its video is an error, the run goes on)."""


class _Retry(Exception):
    """A transient failure: wait and send again."""

    def __init__(self, what: str, wait: float | None = None, kind: str = "item"):
        super().__init__(what)
        self.what, self.wait, self.kind = what, wait, kind


class _Cancelled(Exception):
    """Not sent: another request of the batch stopped the run."""


def check_options(metric: Any) -> None:
    """Validate the remote options of ``metric`` (a MetricError naming the option)."""
    o, name = metric.options, metric.name
    if not remote_name(o["model"]):
        raise MetricError(f"{name}: model=openai:NAME needs the served model's name after "
                          "'openai:', e.g. model=openai:gpt-4o")
    url = o["base_url"] or DEFAULT_BASE_URL
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise MetricError(f"{name}: base_url={url!r} is not an http(s) URL; give the API root, "
                          "e.g. base_url=http://127.0.0.1:8000/v1")
    if parsed.username or parsed.password or "key" in parsed.query.lower():
        raise MetricError(f"{name}: base_url must not hold credentials; put the key in an "
                          "environment variable and name it with api_key_env=")
    checks = (("top_logprobs", 1, 20), ("concurrency", 1, 256), ("max_retries", 0, 100),
              ("jpeg_quality", 1, 100))
    for key, lo, hi in checks:
        if not lo <= int(o[key]) <= hi:
            raise MetricError(f"{name}: {key} must be between {lo} and {hi}, got {o[key]}")
    if not o["timeout"] > 0:
        raise MetricError(f"{name}: timeout must be > 0 seconds, got {o['timeout']}")
    if o["backoff"] < 0:
        raise MetricError(f"{name}: backoff must be >= 0 seconds, got {o['backoff']}")
    if o["image_format"] not in ("jpeg", "png"):
        raise MetricError(f"{name}: image_format must be jpeg or png, got {o['image_format']!r}")
    if o["detail"] not in ("", "low", "high", "auto"):
        raise MetricError(f"{name}: detail must be low, high or auto, got {o['detail']!r}")
    if o["api_key_env"] and not o["api_key_env"].replace("_", "").isalnum():
        raise MetricError(f"{name}: api_key_env names an environment variable (e.g. "
                          f"OPENAI_API_KEY), got {o['api_key_env']!r}")


def check_local_options(metric: Any) -> None:
    """A local checkpoint given a remote-only option: say so."""
    given = [k for k, v in REMOTE_OPTIONS.items() if metric.options.get(k, v) != v]
    if given:
        raise MetricError(f"{metric.name}: option {given[0]}= is for hosted models "
                          f"(model=openai:NAME); model={metric.options['model']} is a local "
                          "checkpoint")


# --------------------------------------------------------------------------- the answer


@dataclass(frozen=True)
class Token:
    """One answer token: its text, log-probability and the alternatives returned."""

    text: str
    logprob: float
    top: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Completion:
    """What one request returned."""

    text: str
    tokens: tuple[Token, ...]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    served_model: str = ""


def _prob(logprob: float) -> float:
    return math.exp(logprob) if math.isfinite(logprob) else 0.0


def first_token_probs(c: Completion) -> dict[str, float]:
    """The first answer token's alternatives as {stripped case-folded text: summed probability}.

    Every entry counts (two token ids that decode alike are two entries); the
    chosen token is added when the server left it out of the list.
    """
    if not c.tokens:
        raise RemoteItemError("the model's answer is empty (no answer token to read)")
    return _alternatives(c.tokens[0], str.casefold)


def _alternatives(tok: Token, fold: Any) -> dict[str, float]:
    entries = list(tok.top)
    if tok.text not in {t for t, _ in entries}:
        entries.append((tok.text, tok.logprob))
    out: dict[str, float] = {}
    for text, lp in entries:
        key = fold(text.strip())
        out[key] = out.get(key, 0.0) + _prob(lp)
    return out


def word_probability(c: Completion, word: str) -> float:
    """P(first answer token is ``word``), stripped and case-folded, capped at 1."""
    return min(1.0, first_token_probs(c).get(word.strip().casefold(), 0.0))


def level_probabilities(c: Completion, words: Sequence[str]) -> tuple[np.ndarray, float]:
    """Each level word's probability (0 when absent) and their total (the mass seen)."""
    probs = first_token_probs(c)
    p = np.array([probs.get(w.casefold(), 0.0) for w in words], dtype=np.float64)
    return p, float(min(1.0, p.sum()))


def digit_soft_score(c: Completion, pos: int, value: float) -> float:
    """Expected digit (1-5, renormalised) of the token that wrote ``value`` at ``pos``.

    ``pos`` is a character offset in the answer text. When the tokens do not
    spell the text, or that token is not the lone digit written, ``value``.
    """
    if "".join(t.text for t in c.tokens) != c.text or not float(value).is_integer():
        return float(value)
    start = 0
    for tok in c.tokens:
        end = start + len(tok.text)
        if start <= pos < end:
            if tok.text.strip() != str(int(value)):
                return float(value)
            probs = _alternatives(tok, str)
            p = np.array([probs.get(str(k), 0.0) for k in range(1, 6)])
            if p.sum() <= 0:
                return float(value)
            return float((p / p.sum() * np.arange(1, 6)).sum())
        start = end
    return float(value)


def parse_completion(data: Any, model: str, url: str) -> Completion:
    """Read a chat-completions body; RemoteStop when it carries no logprobs."""
    if not isinstance(data, dict):
        raise _Retry("the server's answer is not a JSON object")
    if isinstance(data.get("error"), dict):
        raise RemoteItemError(f"the server answered with an error: "
                              f"{str(data['error'].get('message', data['error']))[:300]}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _Retry("the server's answer has no choices")
    ch = choices[0]
    msg = ch.get("message") if isinstance(ch.get("message"), dict) else {}
    text = msg.get("content")
    if isinstance(text, list):  # content parts
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    text = text if isinstance(text, str) else ""
    lp = ch.get("logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    if content is None:
        raise RemoteStop(f"the model {model!r} at {url} returned no logprobs; these metrics read "
                         "the answer's token probabilities, so they need a server and model that "
                         "return logprobs with top_logprobs (OpenAI's gpt-4o family, vLLM, "
                         "SGLang do; many reasoning models and some gateways do not)")
    tokens = []
    try:
        for t in content:
            top = tuple((str(e["token"]), float(e["logprob"]))
                        for e in (t.get("top_logprobs") or []))
            tokens.append(Token(str(t["token"]), float(t["logprob"]), top))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _Retry("the server's logprobs are malformed") from None
    if tokens and not tokens[0].top:
        raise RemoteStop(f"the model {model!r} at {url} returned logprobs without top_logprobs "
                         "alternatives; these metrics need top_logprobs")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}

    def _int(v: Any) -> int:
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0

    return Completion(text, tuple(tokens), _int(usage.get("prompt_tokens")),
                      _int(usage.get("completion_tokens")), str(data.get("model") or ""))


# --------------------------------------------------------------------------- the request


def encode_frames(frames: Any, image_format: str = "jpeg", quality: int = 90) -> list[str]:
    """Each frame (uint8 RGB) as a ``data:image/...;base64,`` URL (OpenCV's encoder)."""
    import cv2

    urls = []
    for frame in frames.iter() if hasattr(frames, "iter") else frames:
        bgr = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)
        if image_format == "png":
            ok, buf = cv2.imencode(".png", bgr)
            mime = "image/png"
        else:
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
            mime = "image/jpeg"
        if not ok:
            raise RemoteItemError("a frame could not be encoded as an image")
        urls.append(f"data:{mime};base64," + base64.b64encode(buf.tobytes()).decode("ascii"))
    return urls


def _retry_after(headers: Any) -> float | None:
    """Seconds a ``Retry-After`` / ``retry-after-ms`` header asks to wait."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(ra)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _server_message(body: bytes) -> str:
    try:
        data = json.loads(body)
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message", err) if isinstance(err, dict) else err
        return " ".join(str(msg).split())[:300]
    except (ValueError, AttributeError):
        return " ".join(body[:300].decode("utf-8", "replace").split())


@dataclass
class _Counts:
    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed: int = 0
    reused: int = 0  # answers served from memory (a batch rescored item by item)
    by_status: dict[str, int] = field(default_factory=dict)


class ChatClient:
    """Sends chat-completions requests: bounded concurrency, retries, a memo by digest."""

    def __init__(self, model: str, base_url: str, api_key: str, key_env: str, *,
                 timeout: float = 60.0, max_retries: int = 5, concurrency: int = 4,
                 backoff: float = 1.0) -> None:
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._key = api_key
        self.key_env = key_env
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.concurrency = int(concurrency)
        self.backoff = float(backoff)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stopped: RemoteStop | None = None
        self._memo: dict[str, Completion | RemoteItemError] = {}
        self._counts = _Counts()
        host = urllib.parse.urlparse(self.url).hostname or ""
        # Loopback never goes through a proxy set in the environment.
        handlers = [urllib.request.ProxyHandler({})] if host in ("127.0.0.1", "localhost",
                                                                  "::1") else []
        self._opener = urllib.request.build_opener(*handlers)

    def __getstate__(self) -> dict[str, Any]:  # pragma: no cover - never pickled with a key
        raise TypeError("a ChatClient holds an API key and is not pickled")

    def counts(self) -> dict[str, int]:
        """Requests sent (retries included), retries, tokens, failures, answers reused."""
        with self._lock:
            c = self._counts
            return {"requests": c.requests, "retries": c.retries,
                    "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
                    "failed": c.failed, "reused": c.reused}

    def resume(self) -> None:
        """Forget an earlier stop (a new run); answers received stay in memory, failed
        requests are asked again."""
        with self._lock:
            self._stopped = None
            self._stop.clear()
            self._memo = {k: v for k, v in self._memo.items() if isinstance(v, Completion)}

    def _mask(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    # -- one request ---------------------------------------------------------
    def _send(self, payload: bytes) -> tuple[int, Any, bytes]:
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "videojury"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        req = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
        with self._lock:
            self._counts.requests += 1
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read()
            except (OSError, http.client.HTTPException):
                body = b""
            return exc.code, exc.headers, body
        except http.client.IncompleteRead:
            raise _Retry("the server's answer was cut off (truncated body)") from None
        except (socket.timeout, TimeoutError):
            raise _Retry(f"no answer within timeout={self.timeout:g} s", kind="reach") from None
        except (http.client.HTTPException, ConnectionError) as exc:
            raise _Retry(f"the connection failed ({exc.__class__.__name__})", kind="reach") \
                from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise _Retry(f"no answer within timeout={self.timeout:g} s", kind="reach") \
                    from None
            raise _Retry(f"cannot reach the server ({reason})", kind="reach") from None

    def _attempt(self, payload: bytes) -> Completion:
        status, headers, body = self._send(payload)
        with self._lock:
            self._counts.by_status[str(status)] = self._counts.by_status.get(str(status), 0) + 1
        if status == 200:
            try:
                data = json.loads(body)
            except ValueError:
                raise _Retry("the server's answer is not valid JSON (malformed or cut off)") \
                    from None
            return parse_completion(data, self.model, self.url)
        msg = self._mask(_server_message(body))
        if status in (401, 403):
            where = (f"the key from ${self.key_env}" if self.key_env else
                     "no key (api_key_env= is empty)")
            raise RemoteStop(f"the server at {self.url} refused {where} (HTTP {status}: {msg}); "
                             "check the key, or name the variable holding it with api_key_env=")
        if status == 404:
            raise RemoteStop(f"HTTP 404 from {self.url} ({msg}); check base_url= (the API root, "
                             f"usually ending in /v1) and the model name {self.model!r}")
        if status == 429:
            raise _Retry(f"rate limited (HTTP 429: {msg})", _retry_after(headers), kind="busy")
        if status in (502, 503, 504):
            raise _Retry(f"server unavailable (HTTP {status}: {msg})", _retry_after(headers),
                         kind="busy")
        if status >= 500:
            raise _Retry(f"server error (HTTP {status}: {msg})", _retry_after(headers))
        if "logprob" in msg.lower():
            raise RemoteStop(f"the model {self.model!r} at {self.url} does not give logprobs "
                             f"(HTTP {status}: {msg}); these metrics need logprobs with "
                             "top_logprobs")
        raise RemoteItemError(f"the server rejected the request (HTTP {status}: {msg})")

    def _one(self, payload: bytes, digest: str) -> Completion:
        attempt = 0
        while True:
            if self._stop.is_set():
                raise _Cancelled()
            try:
                c = self._attempt(payload)
                with self._lock:
                    self._counts.prompt_tokens += c.prompt_tokens
                    self._counts.completion_tokens += c.completion_tokens
                return c
            except _Retry as r:
                if attempt >= self.max_retries:
                    tries = f"{attempt + 1} tr{'y' if attempt == 0 else 'ies'}"
                    if r.kind in ("busy", "reach"):
                        raise RemoteStop(f"{self.url}: {self._mask(r.what)}, still after {tries}"
                                         "; stopped asking (the results so far are stored; run "
                                         "again later to continue, or lower concurrency=)") \
                            from None
                    raise RemoteItemError(f"{self._mask(r.what)} (after {tries})") from None
                wait = r.wait
                if wait is None:
                    # exponential, with a deterministic spread per request
                    spread = 1.0 + int(digest[:4], 16) / 0xFFFF * 0.25
                    wait = self.backoff * (2 ** attempt) * spread
                elif wait > MAX_RETRY_AFTER:
                    raise RemoteStop(f"{self.url}: {self._mask(r.what)}; the server asks to wait "
                                     f"{wait:.0f} s; stopped (run again later)") from None
                attempt += 1
                with self._lock:
                    self._counts.retries += 1
                if self._stop.wait(wait):
                    raise _Cancelled() from None

    def _memoized(self, body: dict[str, Any]) -> Completion | RemoteItemError | RemoteStop:
        payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
        digest = hashlib.sha256(payload).hexdigest()
        with self._lock:
            hit = self._memo.get(digest)
            if hit is not None:
                self._counts.reused += 1
                return hit
        try:
            out: Completion | RemoteItemError = self._one(payload, digest)
        except RemoteItemError as exc:
            out = exc
            with self._lock:
                self._counts.failed += 1
        except RemoteStop as exc:
            with self._lock:
                if self._stopped is None:
                    self._stopped = exc
            self._stop.set()
            return self._stopped
        except _Cancelled:
            return self._stopped or RemoteStop("stopped")
        with self._lock:
            self._memo[digest] = out
        return out

    def complete(self, bodies: Sequence[dict[str, Any]]) -> list[Completion | RemoteItemError]:
        """One answer (or that request's error) per body, at most ``concurrency`` in flight.

        Raises :class:`RemoteStop` when the run cannot go on (the first such
        reason); requests not yet sent are then not sent, and a later call
        sends nothing (answers already received are still served from memory).
        """
        if len(bodies) <= 1 or self.concurrency == 1:
            outs = [self._memoized(b) for b in bodies]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(bodies))) as pool:
                outs = list(pool.map(self._memoized, bodies))
        if any(isinstance(o, RemoteStop) for o in outs):
            raise self._stopped or next(o for o in outs if isinstance(o, RemoteStop))
        return outs  # type: ignore[return-value]


def make_client(metric: Any) -> ChatClient:
    """The client of a remote metric; reads the API key from its environment variable."""
    o = metric.options
    env = o["api_key_env"]
    key = ""
    if env:
        key = os.environ.get(env, "").strip()
        if not key:
            raise MetricError(f"{metric.name}: the API key is read from the environment variable "
                              f"{env}, which is not set; export {env}=... (or name another "
                              "variable with api_key_env=, or give api_key_env= empty for a "
                              "server that needs no key)")
    return ChatClient(remote_name(o["model"]) or "", o["base_url"] or DEFAULT_BASE_URL, key, env,
                      timeout=o["timeout"], max_retries=o["max_retries"],
                      concurrency=o["concurrency"], backoff=o["backoff"])


__all__ = [
    "ChatClient", "Completion", "DEFAULT_BASE_URL", "PREFIX", "REMOTE_OPTIONS", "REMOTE_RUNTIME",
    "RemoteItemError", "RemoteStop", "Token", "check_options", "check_local_options",
    "digit_soft_score", "encode_frames", "first_token_probs", "level_probabilities",
    "make_client", "parse_completion", "remote_name", "word_probability",
]
