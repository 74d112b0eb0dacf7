"""A rater in a real browser: headless Chromium completes an ACR study with the keyboard,
reloads halfway and resumes, survives a SIGKILL of the server and its restart; the export
holds every answer exactly once and `videojury mos` reads it.

Needs Debian's ``chromium``, the ``playwright`` Python package (it drives that binary; no
``playwright install``) and the ``[study]`` extra. Skips with the reason when one is missing.
Set ``VIDEOJURY_SCREENSHOT_DIR`` to keep the screenshots (``docs/img/study-*.png`` are made
that way).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the playwright Python package is not installed (pip install playwright; it drives "
           "the system chromium, no browser download needed)")
pytest.importorskip("starlette", reason="the [study] extra is not installed")
pytest.importorskip("uvicorn", reason="the [study] extra is not installed")

from tests._study_utils import HttpRater, tokens, write_manifest  # noqa: E402
from tests.test_browser_report import CHROMIUM_ARGS, _chromium  # noqa: E402
from videojury.cli import main  # noqa: E402
from videojury.study import create_study, export_study  # noqa: E402
from videojury.video import write_video  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _wait_until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll ``expression`` from here until it is true. Playwright's own
    ``wait_for_function`` polls inside the page with ``eval``, which the study's
    Content-Security-Policy (``script-src 'self'``) refuses whenever the first
    check is false; ``page.evaluate`` is not subject to it."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:g} s: {expression}")
        page.wait_for_timeout(50)


def _scene(path: Path, k: int, frames: int = 24, w: int = 320, h: int = 180) -> Path:
    """A looping clip: a gradient sky and a disc crossing it, blurrier for higher k."""
    yy, xx = np.mgrid[0:h, 0:w]
    sky = np.stack([40 + 60 * yy / h, 90 + 80 * yy / h, 200 - 40 * yy / h], -1)
    out = []
    for t in range(frames):
        cx = int(w * (0.15 + 0.7 * t / frames))
        disc = (xx - cx) ** 2 + (yy - h * 0.55) ** 2 < (h * 0.18) ** 2
        img = sky.copy()
        img[disc] = (235, 90 + 25 * k, 60)
        img[yy > h * 0.8] = (70, 140 - 10 * k, 60)
        if k:  # coarser for the "worse" clips
            s = 2 * k
            img = np.kron(img[::s, ::s], np.ones((s, s, 1)))[:h, :w]
        out.append(img.astype(np.uint8))
    return write_video(path, out, fps=12, crf=28)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set VIDEOJURY_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        try:
            ctx = p.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")), executable_path=exe,
                headless=True, args=CHROMIUM_ARGS, viewport={"width": 1100, "height": 760})
        except Exception as exc:  # noqa: BLE001 - a broken browser install is a skip reason
            pytest.skip(f"Chromium at {exe} did not start under Playwright: {exc}")
        yield ctx
        ctx.close()


class Server:
    """``videojury study serve`` in a subprocess (so it can be SIGKILLed)."""

    def __init__(self, folder: Path, port: int = 0):
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "300"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "videojury", "study", "serve", str(folder), "--port", str(port)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
        text = ""
        deadline = time.time() + 30
        while "admin page:" not in text:
            line = self.proc.stderr.readline()
            if not line or time.time() > deadline:
                raise RuntimeError(f"the server did not start: {text}{self.proc.stderr.read()}")
            text += line
        self.url = re.search(r"at (http://127\.0\.0\.1:\d+)/r/", text).group(1)
        self.admin = re.search(r"admin page: (\S+)", text).group(1)
        self.port = int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stderr.close()


def _answer_by_keyboard(page, n_item: int, total: int, keys) -> str:
    """Wait for item ``n_item``, then press ``keys`` (a string, or a function of the shown
    video's id giving one); returns the keys pressed."""
    progress = page.locator("[data-testid=progress]")
    sync_api.expect(progress).to_have_text(f"Item {n_item} of {total}")
    page.wait_for_selector("body[data-ready='1']")
    if callable(keys):
        keys = keys(int(page.get_attribute("video", "src").rsplit("/", 1)[1]))
    for key in keys:
        page.keyboard.press(key)
    return keys


def test_rater_completes_acr_study_with_keyboard_reload_and_server_kill(browser, tmp_path):
    clips = tmp_path / "clips"
    rows = [{"video": f"clips/c{k}.mp4", "prompt": "a red ball rolls across a green meadow under a blue sky",
             "model": f"t2v-{k}"} for k in range(5)]
    rows.append({"video": "clips/gold.mp4", "prompt": rows[0]["prompt"], "model": "gold", "golden": 5})
    for k in range(5):
        _scene(clips / f"c{k}.mp4", k)
    _scene(clips / "gold.mp4", 0)
    man = write_manifest(tmp_path / "manifest.csv", rows)
    folder = tmp_path / "study"
    create_study(folder, man, protocol="acr", dimensions=["quality", "alignment"], raters=4, golden=1,
                 repeats=1, seed=3, title="Video quality study")
    tok = tokens(folder)
    total = 5 + 1 + 1
    truth = {1: 5, 2: 4, 3: 3, 4: 2, 5: 1, 6: 5}  # c0 sharpest ... c4 coarsest; gold is c0's twin

    def keys(vid: int) -> str:  # quality, then alignment (one grade lower for the coarse clips)
        return f"{truth[vid]}{max(1, truth[vid] - (vid > 3))}"

    shots = {}

    srv = Server(folder)
    try:
        # Three other raters answer over HTTP, so the admin page has agreement to show.
        rng = np.random.default_rng(0)
        for name in ("r02", "r03", "r04"):
            r = HttpRater(srv.url, tok[name])
            r.start()
            while r.answer_current(lambda d: {dim: str(int(np.clip(truth[d["videos"][0]] + rng.integers(-1, 2), 1, 5)))
                                              for dim in d["dimensions"]}) is not None:
                pass

        page = browser.new_page()
        outside: list[str] = []
        page.on("request", lambda req: None if req.url.startswith((srv.url, "data:")) else outside.append(req.url))
        page.goto(f"{srv.url}/r/{tok['r01']}")
        sync_api.expect(page.locator("h1")).to_have_text("Instructions")
        shots["instructions"] = tmp_path / "study-instructions.png"
        page.screenshot(path=str(shots["instructions"]), full_page=True)
        page.locator("[data-testid=start]").click()
        answers = {}
        for i in range(1, 4):
            answers[i] = _answer_by_keyboard(page, i, total, keys)
        # The video element really plays the H.264 clip.
        sync_api.expect(page.locator("[data-testid=progress]")).to_have_text(f"Item 4 of {total}")
        _wait_until(page, "document.querySelector('video').readyState >= 2")
        assert page.evaluate("document.querySelector('video').videoWidth") == 320
        page.keyboard.press("3")  # one of two dimensions answered, then a reload: nothing is stored
        shots["rate"] = tmp_path / "study-rate.png"
        page.wait_for_timeout(300)
        page.screenshot(path=str(shots["rate"]))
        page.reload()
        answers[4] = _answer_by_keyboard(page, 4, total, keys)
        # A wrong first key taken back with Backspace: only the keys after it count.
        _answer_by_keyboard(page, 5, total, "1")
        chosen = page.locator(".choices button.chosen")
        sync_api.expect(chosen).to_have_count(1)
        sync_api.expect(page.locator(".question.current")).to_have_attribute("data-dim", "alignment")
        page.keyboard.press("Backspace")
        sync_api.expect(chosen).to_have_count(0)
        sync_api.expect(page.locator(".question.current")).to_have_attribute("data-dim", "quality")
        answers[5] = _answer_by_keyboard(page, 5, total, keys)
        sync_api.expect(page.locator("[data-testid=progress]")).to_have_text(f"Item 6 of {total}")
    finally:
        srv.kill()
    con = sqlite3.connect(folder / "study.sqlite")
    stored = con.execute("SELECT seq, dimension, value FROM answers WHERE rater='r01' ORDER BY seq, dimension").fetchall()
    con.close()
    assert stored == [(i - 1, d, answers[i][j]) for i in range(1, 6) for j, d in sorted(enumerate(["quality", "alignment"]), key=lambda x: x[1])]

    srv = Server(folder, port=srv.port)  # same origin: the open page goes on
    try:
        page.reload()
        answers[6] = _answer_by_keyboard(page, 6, total, keys)
        answers[7] = _answer_by_keyboard(page, 7, total, keys)
        sync_api.expect(page.locator("[data-testid=done]")).to_be_visible()
        assert outside == []
        admin = browser.new_page()
        admin.goto(srv.admin)
        sync_api.expect(admin.locator("[data-testid=summary]")).to_contain_text("4 finished")
        shots["admin"] = tmp_path / "study-admin.png"
        admin.screenshot(path=str(shots["admin"]), full_page=True)
        admin.close()
        page.close()
    finally:
        srv.kill()

    out = tmp_path / "ratings.csv"
    export_study(folder, out)
    ratings = pd.read_csv(out)
    screening = pd.read_csv(tmp_path / "ratings.screening.csv")
    both = pd.concat([ratings.assign(kind="regular"), screening])
    mine = both[both["rater"] == "r01"]
    assert len(mine) == total * 2 and not mine.duplicated(["seq", "dimension"]).any()
    got = {(int(s), d): str(v) for s, d, v in zip(mine["seq"], mine["dimension"], mine["score"])}
    assert got == {(i - 1, d): answers[i][j] for i in answers for j, d in enumerate(["quality", "alignment"])}
    checks = pd.read_csv(tmp_path / "ratings.raters.csv").set_index("rater")
    assert checks.loc["r01", "golden_accuracy"] == 1.0 and checks.loc["r01", "repeat_agree"] == 1.0
    assert len(both) == 4 * total * 2
    assert len(ratings) == 4 * 5 * 2 and not ratings.duplicated(["rater", "video", "dimension"]).any()
    assert main(["mos", str(out), "-o", str(tmp_path / "mos.csv"), "--splits", "10"]) == 0
    mos = pd.read_csv(tmp_path / "mos.csv")
    assert set(mos["dimension"]) == {"quality", "alignment"} and len(mos) == 10
    for name, path in shots.items():
        assert path.stat().st_size > 10_000, name
    keep = os.environ.get("VIDEOJURY_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for path in shots.values():
            shutil.copy(path, Path(keep) / path.name)


def test_pairwise_keys_a_t_b_act_on_the_pair_shown(browser, tmp_path):
    from videojury.study.app import ServerThread

    for k in range(3):
        _scene(tmp_path / f"c{k}.mp4", k, frames=12)
    rows = [{"video": f"c{k}.mp4", "prompt": "a red ball rolls across a green meadow", "prompt_id": "p0",
             "model": f"t2v-{k}"} for k in range(3)]
    man = write_manifest(tmp_path / "manifest.csv", rows)
    folder = tmp_path / "study"
    create_study(folder, man, protocol="pairwise", dimensions=["quality"], raters=1, seed=2, show_prompt=True,
                 title="Which video is better?")
    shot = tmp_path / "study-pairwise.png"
    with ServerThread(folder) as srv:
        page = browser.new_page()
        page.goto(f"{srv.url}/r/{tokens(folder)['r01']}")
        page.locator("[data-testid=start]").click()
        shown = []
        for i, key in enumerate("ATB", start=1):
            _answer_by_keyboard(page, i, 3, "")
            _wait_until(page, "[...document.querySelectorAll('video')].every(v => v.readyState >= 2)")
            if i == 1:
                page.screenshot(path=str(shot))
            shown.append(page.eval_on_selector_all("video", "vs => vs.map(v => v.getAttribute('src'))"))
            page.keyboard.press(key)
        sync_api.expect(page.locator("[data-testid=done]")).to_be_visible()
        page.close()
    export_study(folder, tmp_path / "pairs.csv")
    pairs = pd.read_csv(tmp_path / "pairs.csv").sort_values("seq")
    assert pairs["winner"].tolist() == ["a", "tie", "b"]
    by_id = {k + 1: r["video"] for k, r in enumerate(rows)}
    assert [[by_id[int(s.rsplit("/", 1)[1])] for s in pair] for pair in shown] == \
        pairs[["video_a", "video_b"]].values.tolist()
    assert main(["pairs", str(tmp_path / "pairs.csv"), "--bootstrap", "0"]) == 0
    keep = os.environ.get("VIDEOJURY_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
