"""Hosted judges (``model=openai:NAME``) against a chat-completions server on 127.0.0.1.

The server below speaks the protocol (``POST /v1/chat/completions``, answers
with ``logprobs.content[].top_logprobs``) and can be told to answer a
request with 429 (+ Retry-After), 5xx, 401, a body cut off mid-way, a body
that is not JSON, no logprobs, or to answer late. No network, no torch.
"""

from __future__ import annotations

import base64
import json
import math
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

import videojury
from videojury.api import MetricLoadWarning
from videojury.errors import MetricError
from videojury.metrics.base import load_metric
from videojury.models.remote import (
    Completion,
    Token,
    _retry_after,
    digit_soft_score,
    first_token_probs,
    level_probabilities,
)
from videojury.video import write_video

KEY = "sk-test-0123456789abcdef"
LN = math.log


def _completion(tokens, tops, model="gpt-4o", n_images=0):
    content = [{"token": t, "logprob": lp, "bytes": None,
                "top_logprobs": [{"token": a, "logprob": b, "bytes": None} for a, b in top]}
               for (t, lp), top in zip(tokens, tops)]
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant",
                                     "content": "".join(t for t, _ in tokens)},
                         "logprobs": {"content": content}}],
            "usage": {"prompt_tokens": 10 + 85 * n_images, "completion_tokens": len(tokens),
                      "total_tokens": 10 + 85 * n_images + len(tokens)}}


# The first answer token of every default answer: "Yes" 0.6, " yes" 0.1, "No" 0.2,
# "Sure" 0.05 (the rest of the mass elsewhere).
YES_TOP = [("Yes", LN(0.6)), ("No", LN(0.2)), (" yes", LN(0.1)), ("Sure", LN(0.05))]


class Server:
    """A scripted chat-completions server; ``actions`` are used by the next requests."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.actions: list[tuple] = []
        self.answer = lambda body: _completion([("Yes", LN(0.6))], [YES_TOP],
                                               body.get("model", ""), _n_images(body))
        self.delay = 0.0
        self.inflight = 0
        self.max_inflight = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n))
                with outer.lock:
                    outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body})
                    action = outer.actions.pop(0) if outer.actions else ("ok",)
                    outer.inflight += 1
                    outer.max_inflight = max(outer.max_inflight, outer.inflight)
                try:
                    if outer.delay:
                        time.sleep(outer.delay)
                    self._act(action, body)
                finally:
                    with outer.lock:
                        outer.inflight -= 1

            def _send(self, status, payload: bytes, headers=(), length=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload) if length is None
                                                      else length))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()

            def _act(self, action, body):
                kind = action[0]
                if kind == "ok":
                    self._send(200, json.dumps(outer.answer(body)).encode())
                elif kind == "status":
                    err = json.dumps({"error": {"message": action[2] if len(action) > 2
                                                else "nope", "type": "x"}}).encode()
                    self._send(action[1], err, action[3] if len(action) > 3 else ())
                elif kind == "truncated":
                    full = json.dumps(outer.answer(body)).encode()
                    self._send(200, full[: len(full) // 2], length=len(full))
                    self.close_connection = True
                elif kind == "malformed":
                    self._send(200, b"<html>bad gateway</html>")
                elif kind == "json":
                    self._send(200, json.dumps(action[1]).encode())
                elif kind == "sleep":
                    time.sleep(action[1])
                    self._send(200, json.dumps(outer.answer(body)).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _n_images(body) -> int:
    return sum(p.get("type") == "image_url" for m in body["messages"]
               for p in (m["content"] if isinstance(m["content"], list) else []))


@pytest.fixture()
def server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    s = Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    out = []
    for i in range(3):
        frames = rng.integers(0, 255, size=(12, 48, 64, 3), dtype=np.uint8)
        out.append(write_video(d / f"clip{i}.mp4", frames, fps=12))
    return out


def _spec(metric, server, extra=""):
    return f"{metric}:model=openai:gpt-4o,base_url={server.url},backoff=0.01{extra}"


PROMPTS = ["a red car", "a cat on a sofa", "rain over a city"]


# --------------------------------------------------------------------------- readers


def test_first_token_probs_strip_casefold_and_sum():
    c = Completion("Yes", (Token("Yes", LN(0.5), (("Yes", LN(0.5)), (" yes", LN(0.2)),
                                                   ("YES\n", LN(0.1)), ("No", LN(0.15)))),))
    p = first_token_probs(c)
    assert p["yes"] == pytest.approx(0.8, abs=1e-12)
    assert p["no"] == pytest.approx(0.15, abs=1e-12)
    # two entries spelling the same text both count; a chosen token missing from the list too
    c = Completion("yes", (Token("yes", LN(0.05), (("Yes", LN(0.3)), ("Yes", LN(0.2)))),))
    assert first_token_probs(c)["yes"] == pytest.approx(0.55, abs=1e-12)
    probs, mass = level_probabilities(
        Completion("good", (Token("good", LN(0.4), (("good", LN(0.4)), (" Excellent", LN(0.3)),
                                                     ("The", LN(0.2)))),)),
        ("excellent", "good", "fair", "poor", "bad"))
    assert probs.tolist() == pytest.approx([0.3, 0.4, 0.0, 0.0, 0.0])
    assert mass == pytest.approx(0.7)


def test_digit_soft_score_reads_the_written_digit_token():
    toks = (Token("visual quality: ", -0.1, (("visual quality: ", -0.1),)),
            Token("4", LN(0.5), (("4", LN(0.5)), ("5", LN(0.3)), ("3", LN(0.2)))))
    c = Completion("visual quality: 4", toks)
    assert digit_soft_score(c, 16, 4.0) == pytest.approx(0.5 * 4 + 0.3 * 5 + 0.2 * 3)
    assert digit_soft_score(c, 16, 3.0) == 3.0  # not the digit written: the value


# --------------------------------------------------------------------------- must show


def test_cli_vqascore_against_a_local_server(server, clips, tmp_path, capsys):
    """The must-show: P(yes) as defined, frames as images, Bearer key, 429 retried,
    and a rerun served entirely from the store."""
    from videojury.cli import main

    manifest = tmp_path / "manifest.csv"
    pd.DataFrame({"video": [str(p) for p in clips], "prompt": PROMPTS}).to_csv(manifest,
                                                                               index=False)
    store = tmp_path / "store.db"
    server.actions = [("status", 429, "slow down", [("Retry-After", "0.2")])]
    spec = f"vqascore:model=openai:gpt-4o,base_url={server.url}"  # the command
    t0 = time.perf_counter()
    rc = main(["score", str(manifest), "-m", spec, "--store", str(store), "-o",
               str(tmp_path / "out.csv"), "--quiet"])
    took = time.perf_counter() - t0
    got = capsys.readouterr()
    text = got.out + got.err
    assert rc == 0, text
    df = pd.read_csv(tmp_path / "out.csv")
    # P(yes) = 0.6 ("Yes") + 0.1 (" yes"), the No and Sure entries left out
    assert df["vqascore"].tolist() == pytest.approx([0.7] * 3, abs=1e-12)
    assert len(server.requests) == 4  # 3 videos + the one 429 retried
    assert took >= 0.2  # the Retry-After was waited
    for r in server.requests:
        assert r["path"] == "/v1/chat/completions"
        assert r["headers"]["Authorization"] == f"Bearer {KEY}"
        b = r["body"]
        assert b["model"] == "gpt-4o" and b["logprobs"] is True and b["top_logprobs"] == 20
        assert b["temperature"] == 0 and b["max_tokens"] == 1
        parts = b["messages"][0]["content"]
        images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
        assert len(images) == 8  # 8 uniform frames by default
        head, data = images[0].split(",", 1)
        assert head == "data:image/jpeg;base64"
        img = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (48, 64, 3)  # under max_pixels: sent at the clip's size
        assert parts[-1]["text"].startswith('Does this video show "')
    prompts_sent = sorted(r["body"]["messages"][0]["content"][-1]["text"]
                          for r in server.requests[1:])
    assert prompts_sent == sorted(f'Does this video show "{p}"? Please answer yes or no.'
                                  for p in PROMPTS)
    assert "4 requests (1 retries)" in text
    # the key is nowhere in the store
    assert KEY.encode() not in store.read_bytes()
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT options, identity FROM results").fetchall()
    assert rows and all(KEY not in o and "api_key" not in o for o, _ in rows)
    # a rerun sends nothing
    n = len(server.requests)
    rc = main(["score", str(manifest), "-m", spec, "--store", str(store), "--quiet"])
    got = capsys.readouterr()
    text = got.out + got.err
    assert rc == 0 and len(server.requests) == n
    assert "3 cached" in text
    # runtime options (concurrency, key variable, retries) do not change the key
    rc = main(["score", str(manifest), "-m", spec + ",concurrency=1,max_retries=1,timeout=5,"
               "api_key_env=OTHER_KEY", "--store", str(store), "--quiet"])
    assert rc == 0 and len(server.requests) == n


def test_renormalize_and_level_judge_and_mass(server, clips):
    df = videojury.score([str(p) for p in clips[:1]], [PROMPTS[0]],
                         [_spec("vqascore", server, ",renormalize=true")])
    assert df["vqascore"][0] == pytest.approx(0.7 / 0.9, abs=1e-12)
    server.answer = lambda body: _completion(
        [("good", LN(0.5))], [[("good", LN(0.5)), ("Excellent", LN(0.2)), (" fair", LN(0.1)),
                               ("The", LN(0.15))]])
    df = videojury.score([str(p) for p in clips[:1]], None, [_spec("judge_quality", server)])
    p = np.array([0.2, 0.5, 0.1, 0.0, 0.0]) / 0.8  # excellent, good, fair, poor (0), bad (0)
    assert df["judge_quality"][0] == pytest.approx(((p * [5, 4, 3, 2, 1]).sum() - 1) / 4 * 100)
    assert df["judge_quality_level"][0] == 4.0
    assert df["judge_quality_mass"][0] == pytest.approx(0.8)
    text = server.requests[-1]["body"]["messages"][0]["content"][-1]["text"]
    assert "excellent, good, fair, poor or bad" in text and "The quality of the video is" in text
    # no level word among the alternatives: an error naming what the answer began with
    server.answer = lambda body: _completion([("The", LN(0.9))], [[("The", LN(0.9))]])
    df = videojury.score([str(p) for p in clips[1:2]], None, [_spec("judge_quality", server)])
    assert "none of the level words" in df["error"][0] and "'The'" in df["error"][0]


def test_qa_and_rationale_from_text(server, clips, tmp_path):
    server.answer = lambda body: _completion(
        [("No", LN(0.7)), (".", -0.01)], [[("No", LN(0.7)), ("Yes", LN(0.25))], [(".", -0.01)]])
    items = pd.DataFrame({"video": [str(clips[0])], "question": ["Is there a dog?"]})
    df = videojury.score(items, None, [_spec("qa", server, ",mode=generate")])
    assert df["qa_yes"][0] == 0.0
    assert df["qa_p_yes"][0] == pytest.approx(0.25)
    assert df["qa_p_yes_norm"][0] == pytest.approx(0.25 / 0.95)
    assert server.requests[-1]["body"]["max_tokens"] == 16
    toks = [("Sharp frames. ", -0.1), ("visual quality: ", -0.1), ("4", LN(0.6)),
            ("\ntext alignment: ", -0.1), ("5", -0.01), ("\nphysical consistency: ", -0.1),
            ("3", LN(0.5))]
    tops = [[toks[0]], [toks[1]], [("4", LN(0.6)), ("5", LN(0.4))], [toks[3]],
            [("5", -0.01)], [toks[5]], [("3", LN(0.5)), ("2", LN(0.5))]]
    server.answer = lambda body: _completion(toks, tops)
    log = tmp_path / "rationale.jsonl"
    df = videojury.score([str(clips[0])], [PROMPTS[0]],
                         [_spec("rationale_judge", server, f",rationale_log={log}")])
    assert df["rationale_visual_quality"][0] == 4.0
    assert df["rationale_visual_quality_soft"][0] == pytest.approx(0.6 * 4 + 0.4 * 5)
    assert df["rationale_text_alignment"][0] == 5.0
    assert df["rationale_physical_consistency_soft"][0] == pytest.approx(2.5)
    rec = json.loads(log.read_text().splitlines()[0])
    assert rec["text"].startswith("Sharp frames.") and rec["model"] == "openai:gpt-4o"


# --------------------------------------------------------------------------- failures


def test_retries_5xx_truncated_and_malformed(server, clips):
    server.actions = [("status", 503), ("status", 500), ("truncated",), ("malformed",)]
    (df, stats) = videojury.score([str(clips[0])], [PROMPTS[0]], [_spec("vqascore", server)],
                                  return_stats=True)
    assert df["error"][0] is None and df["vqascore"][0] == pytest.approx(0.7)
    assert len(server.requests) == 5
    (counts,) = stats.requests.values()
    assert counts["requests"] == 5 and counts["retries"] == 4
    assert counts["prompt_tokens"] == 10 + 85 * 8 and counts["completion_tokens"] == 1


def test_persistent_bad_body_is_an_error_for_that_video_only(server, clips):
    server.actions = [("truncated",)] * 3  # the first video's request (2 tries) fails
    df = videojury.score([str(clips[0]), str(clips[1])], PROMPTS[:2],
                         [_spec("vqascore", server, ",max_retries=1,concurrency=1")])
    assert "cut off" in df["error"][0] and "after 2 tries" in df["error"][0]
    assert df["error"][1] is None and df["vqascore"][1] == pytest.approx(0.7)
    # a JSON answer without choices, and a 400, are per-video errors too
    server.actions = [("json", {"object": "chat.completion"})] * 2 + [
        ("status", 400, "image too large")]
    df = videojury.score([str(clips[0]), str(clips[2])], PROMPTS[::2],
                         [_spec("vqascore", server, ",max_retries=1,concurrency=1")])
    assert "no choices" in df["error"][0]
    assert "HTTP 400: image too large" in df["error"][1]


def test_bad_key_stops_the_run_with_one_message(server, clips, tmp_path):
    server.actions = [("status", 401, f"Incorrect API key provided: {KEY}")] * 10
    store = tmp_path / "s.db"
    with pytest.warns(MetricLoadWarning):
        df, stats = videojury.score([str(p) for p in clips], PROMPTS,
                                    [_spec("vqascore", server, ",concurrency=1")], store,
                                    return_stats=True)
    assert len(server.requests) == 1  # not one per video
    (msg,) = stats.load_errors.values()
    assert "refused the key from $OPENAI_API_KEY (HTTP 401" in msg and KEY not in msg
    assert all("refused the key" in e for e in df["error"])
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0


def test_no_logprobs_stops_the_run(server, clips):
    body = _completion([("Yes", 0.0)], [[("Yes", 0.0)]])
    body["choices"][0]["logprobs"] = None
    server.actions = [("json", body)] * 5
    with pytest.warns(MetricLoadWarning):
        _, stats = videojury.score([str(p) for p in clips], PROMPTS,
                                   [_spec("vqascore", server, ",concurrency=1")],
                                   return_stats=True)
    (msg,) = stats.load_errors.values()
    assert "returned no logprobs" in msg
    assert len(server.requests) == 1


def test_rate_limit_that_does_not_end_stops_and_a_rerun_continues(server, clips, tmp_path):
    store = tmp_path / "s.db"
    server.actions = [("ok",)] + [("status", 429, "rate", [("Retry-After", "0")])] * 3
    with pytest.warns(MetricLoadWarning):
        _, stats = videojury.score([str(p) for p in clips], PROMPTS,
                                   [_spec("vqascore", server, ",concurrency=1,max_retries=2")],
                                   store, return_stats=True)
    (msg,) = stats.load_errors.values()
    assert "HTTP 429" in msg and "after 3 tries" in msg
    assert stats.computed == 1
    n = len(server.requests)
    df = videojury.score([str(p) for p in clips], PROMPTS,
                         [_spec("vqascore", server, ",concurrency=1,max_retries=2")], store)
    assert df["error"].isna().all() and len(server.requests) == n + 2
    # the same metric object, stopped in one run, asks again in the next
    m = load_metric(_spec("vqascore", server, ",concurrency=1,max_retries=0"))
    server.actions = [("status", 503)]
    with pytest.warns(MetricLoadWarning):
        df = videojury.score([str(clips[0])], [PROMPTS[1]], [m])
    assert "not computed" in df["error"][0] and "HTTP 503" in df["error"][0]
    df = videojury.score([str(clips[0])], [PROMPTS[1]], [m])
    assert df["error"][0] is None and df["vqascore"][0] == pytest.approx(0.7)


def test_timeout_is_retried(server, clips):
    server.actions = [("sleep", 1.0)]
    df, stats = videojury.score([str(clips[0])], [PROMPTS[0]],
                                [_spec("vqascore", server, ",timeout=0.3")], return_stats=True)
    assert df["error"][0] is None
    (counts,) = stats.requests.values()
    assert counts["retries"] == 1


def test_concurrency_is_bounded(server, clips):
    server.delay = 0.15
    videojury.score([str(p) for p in clips] * 1, PROMPTS,
                    [_spec("vqascore", server, ",concurrency=2,frames=2")])
    assert server.max_inflight == 2
    assert len(server.requests) == 3


# --------------------------------------------------------------------------- options


def test_options_checked_before_any_request(monkeypatch):
    with pytest.raises(MetricError, match="base_url"):
        load_metric("vqascore:model=openai:gpt-4o,base_url=ftp://x")
    with pytest.raises(MetricError, match="must not hold credentials"):
        load_metric("vqascore:model=openai:gpt-4o,base_url=https://h/v1?api-key=sk-1")
    with pytest.raises(MetricError, match="needs the served model's name"):
        load_metric("vqascore:model=openai:")
    with pytest.raises(MetricError, match="top_logprobs must be between 1 and 20"):
        load_metric("vqascore:model=openai:m,top_logprobs=50")
    with pytest.raises(MetricError, match="does not run on hosted models"):
        load_metric("clipscore:model=openai:gpt-4o")  # not a chat-model metric
    with pytest.raises(MetricError, match="for hosted models"):
        load_metric("vqascore:model=qwen2.5-vl-7b,base_url=http://127.0.0.1:1/v1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    m = load_metric("vqascore:model=openai:m,base_url=http://127.0.0.1:1/v1")
    with pytest.raises(MetricError, match="environment variable OPENAI_API_KEY, which is not"):
        m.load()


def test_local_store_keys_unchanged_and_key_not_pickled(monkeypatch):
    import pickle

    local = load_metric("vqascore:model=qwen2.5-vl-7b")
    assert "base_url" not in local.options_key and "top_logprobs" not in local.options_key
    monkeypatch.setenv("MY_KEY", KEY)
    m = load_metric("judge_quality:model=openai:m,base_url=http://127.0.0.1:1/v1,"
                    "api_key_env=MY_KEY")
    m.load()
    assert KEY not in pickle.dumps(m).decode("latin-1")
    assert "MY_KEY" not in m.options_key and "concurrency" not in m.options_key
    assert m.label == "judge_quality:base_url=http://127.0.0.1:1/v1,model=openai:m"


def test_retry_after_forms():
    assert _retry_after({"retry-after": "2"}) == 2.0
    assert _retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= _retry_after({"retry-after": when}) <= 31
    assert _retry_after({"retry-after": "soon"}) is None and _retry_after({}) is None


@pytest.mark.parametrize("action, expect", [
    (("status", 404, "The model `gpt-4o` does not exist"), "HTTP 404"),
    (("status", 400, "logprobs are not supported for this model"), "does not give logprobs"),
    (("status", 429, "quota", [("Retry-After", "3600")]), "asks to wait 3600 s"),
])
def test_other_run_stoppers(server, clips, action, expect):
    server.actions = [action] * 5
    with pytest.warns(MetricLoadWarning):
        _, stats = videojury.score([str(p) for p in clips[:2]], PROMPTS[:2],
                                   [_spec("vqascore", server, ",concurrency=1")],
                                   return_stats=True)
    (msg,) = stats.load_errors.values()
    assert expect in msg and len(server.requests) == 1
    assert "1 requests (0 retries)" in stats.summary()
