"""The study server over real HTTP on loopback: security checks, simulated raters, exports.

The server runs in a thread (``ServerThread``, a free port on 127.0.0.1);
raters are plain ``http.client`` connections. Needs the ``[study]`` extra.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("starlette", reason="the [study] extra (starlette, uvicorn, jinja2) is not installed")
pytest.importorskip("uvicorn", reason="the [study] extra is not installed")

from tests._study_utils import HttpRater, make_clips, tokens, write_manifest  # noqa: E402
from videojury.cli import main  # noqa: E402
from videojury.stats.correlation import krcc  # noqa: E402
from videojury.study import create_study, export_study  # noqa: E402
from videojury.study.app import ServerThread  # noqa: E402


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("clips"), 20, frames=2)


def _answers(folder: Path) -> list[tuple]:
    con = sqlite3.connect(folder / "study.sqlite")
    try:
        return con.execute("SELECT rater, seq, dimension, value FROM answers").fetchall()
    finally:
        con.close()


def test_tokens_paths_csrf_and_item_checks(tmp_path, clips):
    evil = '</script><img src=x onerror="alert(1)"> & {{ 7*7 }}'
    rows = [{"video": str(c), "prompt": evil} for k, c in enumerate(clips[:6])]
    man = write_manifest(tmp_path / "m.csv", rows)
    folder = tmp_path / "s"
    create_study(folder, man, protocol="acr", dimensions=["quality"], raters=2, items_per_rater=3, seed=4,
                 show_prompt=True, title="<b>t</b>")
    tok = tokens(folder)
    with ServerThread(folder) as srv:
        r1, r2 = HttpRater(srv.url, tok["r01"]), HttpRater(srv.url, tok["r02"])
        get = r1.request
        # No token, a wrong token, path tricks: nothing but 404.
        for path in ["/", "/r/", "/r", f"/r/{tok['r01']}x", "/r/../admin", "/admin", "/admin/",
                     f"/admin/{tok['r01']}", f"/r/{tok['r01']}/video/../../../etc/passwd",
                     f"/r/{tok['r01']}/video/%2e%2e%2f%2e%2e%2fstudy.sqlite", f"/r/{tok['r01']}/video/1.0",
                     "/static/../study.sqlite", "/static/%2e%2e/app.py", "/study.sqlite", "/raters.csv",
                     f"/r/{tok['r01']}/video/999", f"/r/{tok['r01']}/video/{10**30}", f"/r/{tok['r01']}/video/-1",
                     "/r/" + "x" * 5000]:
            status, _, body = get("GET", path)
            assert status == 404, (path, status)
            assert b"sqlite" not in body and b"import" not in body
        # Videos: only those in the rater's own schedule.
        con = sqlite3.connect(folder / "study.sqlite")
        mine = {a for (a,) in con.execute("SELECT a FROM items WHERE rater='r01'")}
        theirs = {a for (a,) in con.execute("SELECT a FROM items WHERE rater='r02'")} - mine
        con.close()
        assert theirs
        assert get("GET", f"/r/{tok['r01']}/video/{min(theirs)}")[0] == 404
        status, headers, body = get("GET", f"/r/{tok['r01']}/video/{min(mine)}", headers={"Range": "bytes=0-99"})
        assert status == 206 and len(body) == 100 and headers["content-type"] == "video/mp4"

        # A page reached under another host name (DNS rebinding) is refused.
        assert get("GET", f"/r/{tok['r01']}", headers={"Host": f"evil.example:{r1.port}"})[0] == 400
        d = r1.page()
        assert d["page"] == "instructions"
        status, headers, body = get("GET", f"/r/{tok['r01']}")
        assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
        assert "script-src 'self'" in headers["content-security-policy"]
        assert tok["r02"] not in body.decode()  # a rater's page names no other rater
        # Answering before starting, and POSTs that fail the CSRF checks.
        start, answer = d["start_url"], f"/r/{tok['r01']}/answer"
        assert r1.post(answer, {"seq": 0, "nonce": "x", "answers": {"quality": "3"}}, d["csrf"])[0] == 409
        form = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": d["csrf"]}
        assert get("POST", start, b"a=1", form)[0] == 403
        assert get("POST", start, b"{}", {"Content-Type": "application/json"})[0] == 403
        assert r1.post(start, {}, r2.page()["csrf"])[0] == 403  # another rater's CSRF token
        cross = {"Content-Type": "application/json", "X-CSRF-Token": d["csrf"], "Origin": "http://evil.example"}
        assert get("POST", start, b"{}", cross)[0] == 403
        assert get("POST", start, b"{}", {**cross, "Origin": "null"})[0] == 403
        assert get("POST", start, b"{}", {**cross, "Origin": srv.url, "Sec-Fetch-Site": "cross-site"})[0] == 403
        assert get("POST", start, b"{}", {"Content-Type": "application/json",
                                          "X-CSRF-Token": "\u00e9t\u00e9".encode("latin-1")})[0] == 403
        assert get("GET", "/admin/%C3%A9t%C3%A9")[0] == 404
        assert r1.post(start, {}, d["csrf"])[0] == 200

        item = r1.page()
        assert item["page"] == "item" and item["seq"] == 0
        html = get("GET", f"/r/{tok['r01']}")[2].decode()
        assert "<img" not in html and "<b>" not in html and "{{ 7*7 }}" in html  # text, not template
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp;" in html
        bad = [({"seq": 1, "nonce": item["nonce"], "answers": {"quality": "3"}}, 409),  # not the shown item
               ({"seq": 0, "nonce": "guess", "answers": {"quality": "3"}}, 409),
               ({"seq": 0, "nonce": "\u00e9\ud800", "answers": {"quality": "3"}}, 409),
               ({"seq": 0, "nonce": item["nonce"], "answers": {"quality": "6"}}, 400),
               ({"seq": 0, "nonce": item["nonce"], "answers": {"quality": True}}, 400),
               ({"seq": 0, "nonce": item["nonce"], "answers": {}}, 400),
               ({"seq": 0, "nonce": item["nonce"], "answers": {"quality": "3", "x": "1"}}, 400),
               ({"seq": "0", "nonce": item["nonce"], "answers": {"quality": "3"}}, 400),
               ({"seq": 10**30, "nonce": item["nonce"], "answers": {"quality": "3"}}, 400),
               ({"seq": 0, "nonce": item["nonce"], "answers": ["quality", "3"]}, 400)]
        for payload, code in bad:
            assert r1.post(item["answer_url"], payload, item["csrf"])[0] == code, payload
        assert get("POST", item["answer_url"], b"not json",
                   {"Content-Type": "application/json", "X-CSRF-Token": item["csrf"]})[0] == 400
        assert get("POST", item["answer_url"], b"{" + b" " * 9000 + b"}",
                   {"Content-Type": "application/json", "X-CSRF-Token": item["csrf"]})[0] == 413
        assert _answers(folder) == []
        ok = {"seq": 0, "nonce": item["nonce"], "answers": {"quality": "4"}}
        assert r1.post(item["answer_url"], ok, item["csrf"]) == (200, {"ok": True})
        # The same POST again (a retry after a lost reply) is acknowledged, not stored twice.
        assert r1.post(item["answer_url"], ok, item["csrf"]) == (200, {"ok": True, "duplicate": True})
        assert r1.post(item["answer_url"], {**ok, "answers": {"quality": "1"}}, item["csrf"])[1]["duplicate"]
        assert _answers(folder) == [("r01", 0, "quality", "4")]
        # A rater's token is no admin token, and the admin token needs no rater page.
        assert get("GET", f"/admin/{tok['r01']}/status.json")[0] == 404
        status, _, body = get("GET", srv.admin_url.split(str(srv.url))[1] + "/status.json")
        assert status == 200 and json.loads(body)["raters"][0]["answered"] == 1


def test_minimum_viewing_time_is_enforced_by_the_server(tmp_path, clips):
    man = write_manifest(tmp_path / "m.csv", [{"video": str(c)} for c in clips[:2]])
    folder = tmp_path / "s"
    create_study(folder, man, protocol="acr", dimensions=["quality"], raters=1, min_view=0.8)
    with ServerThread(folder) as srv:
        r = HttpRater(srv.url, tokens(folder)["r01"])
        r.start()
        d = r.page()
        payload = {"seq": d["seq"], "nonce": d["nonce"], "answers": {"quality": "2"}}
        status, reply = r.post(d["answer_url"], payload, d["csrf"])
        assert status == 409 and "at least 0.8 s" in reply["error"]
        time.sleep(0.8)
        assert r.post(d["answer_url"], payload, d["csrf"])[0] == 200
        assert _answers(folder)[0][3] == "2"


def test_simulated_acr_raters_golden_screening_and_mos(tmp_path, clips, capsys):
    quality = [1.2, 2.0, 2.9, 3.7, 4.6, 3.3]  # regular videos' true grades
    rows = [{"video": f"clips/{c.name}", "prompt": f"prompt {k}", "model": f"m{k}"} for k, c in enumerate(clips[:6])]
    rows += [{"video": f"clips/{clips[6].name}", "prompt": "g1", "model": "gold", "golden": 5},
             {"video": f"clips/{clips[7].name}", "prompt": "g2", "model": "gold", "golden": 1}]
    (tmp_path / "clips").symlink_to(clips[0].parent)
    man = write_manifest(tmp_path / "m.csv", rows)
    folder = tmp_path / "s"
    create_study(folder, man, protocol="acr", dimensions=["quality"], raters=5, golden=2, repeats=2, seed=5)
    rng = np.random.default_rng(0)
    truth = {k + 1: q for k, q in enumerate(quality)} | {7: 5, 8: 1}
    with ServerThread(folder) as srv:
        for name, token in tokens(folder).items():
            r = HttpRater(srv.url, token)
            r.start()
            inverted = name == "r05"  # reads the scale upside down: fails the golden items

            def choose(d):
                t = truth[d["videos"][0]]
                q = np.clip(round((6 - t if inverted else t) + rng.normal(0, 0.4)), 1, 5)
                return {"quality": str(int(q))}

            while (res := r.answer_current(choose)) is not None:
                assert res[1] == 200, res
            assert r.page()["page"] == "done"
    out = tmp_path / "ratings.csv"
    info = export_study(folder, out)
    ratings = pd.read_csv(out)
    screening = pd.read_csv(tmp_path / "ratings.screening.csv")
    raters = pd.read_csv(tmp_path / "ratings.raters.csv").set_index("rater")
    # Every answer exactly once: 6 regular + 2 golden + 2 repeats per rater.
    assert len(_answers(folder)) == 5 * 10 == len(ratings) + len(screening)
    assert info["n_ratings"] == 30 and len(ratings.drop_duplicates(["rater", "video", "dimension"])) == 30
    assert list(ratings.columns[:4]) == ["rater", "video", "dimension", "score"]
    assert set(ratings["video"]) == {r["video"] for r in rows[:6]}  # names as in the manifest
    assert sorted(screening["kind"].value_counts().items()) == [("golden", 10), ("repeat", 10)]
    assert (raters.loc[["r01", "r02", "r03", "r04"], "golden_accuracy"] == 1.0).all()
    assert raters.loc["r05", "golden_accuracy"] == 0.0
    assert (raters["answered"] == raters["total"]).all() and (raters["total"] == 10).all()
    rc = main(["mos", str(out), "-o", str(tmp_path / "mos.csv"), "--splits", "20"])
    assert rc == 0
    mos = pd.read_csv(tmp_path / "mos.csv").set_index("video")
    order = [rows[k]["video"] for k in np.argsort(quality)]
    assert krcc(mos.loc[order, "mos"].to_numpy(), np.sort(quality)) > 0.7


def test_simulated_pairwise_raters_recover_the_true_order(tmp_path, clips, capsys):
    """Five T2V models, four prompts, eight raters answering by Bradley-Terry with known
    strengths (and 10% ties when close): `study export` then `pairs` recovers the order."""
    strength = {"m0": 0.0, "m1": 0.6, "m2": 1.2, "m3": 1.8, "m4": 2.4}
    rows = []
    for p in range(4):
        for m in strength:
            k = 5 * p + int(m[1])
            rows.append({"video": str(clips[k]), "prompt": f"prompt {p}", "prompt_id": f"p{p}", "model": m})
    man = write_manifest(tmp_path / "m.csv", rows)
    folder = tmp_path / "s"
    create_study(folder, man, protocol="pairwise", dimensions=["quality"], raters=8, repeats=3, seed=11)
    rng = np.random.default_rng(1)
    vid_strength = {k + 1: strength[r["model"]] + rng.normal(0, 0.2) for k, r in enumerate(rows)}
    with ServerThread(folder) as srv:
        t0 = time.perf_counter()
        for token in tokens(folder).values():
            r = HttpRater(srv.url, token)
            r.start()

            def choose(d):
                a, b = d["videos"]
                diff = vid_strength[a] - vid_strength[b]
                if abs(diff) < 0.3 and rng.random() < 0.1:
                    return {"quality": "tie"}
                return {"quality": "a" if rng.random() < 1 / (1 + np.exp(-diff)) else "b"}

            while (res := r.answer_current(choose)) is not None:
                assert res[1] == 200, res
        took = time.perf_counter() - t0
        status, _, body = r.request("GET", srv.admin_url.split(srv.url)[1] + "/status.json")
        live = json.loads(body)
    n = 8 * (4 * 10 + 3)
    assert live["answers"] == n and live["n_finished"] == 8
    assert live["agreement"][0]["split_half"] > 0.5
    out = tmp_path / "pairs.csv"
    export_study(folder, out)
    pairs = pd.read_csv(out)
    assert len(pairs) == 8 * 40 and len(_answers(folder)) == n
    assert list(pairs.columns[:5]) == ["rater", "video_a", "video_b", "winner", "dimension"]
    rep = pd.read_csv(tmp_path / "pairs.screening.csv")
    assert len(rep) == 24 and set(rep["kind"]) == {"repeat"} and rep["correct"].mean() > 0.5
    rc = main(["pairs", str(out), "-o", str(tmp_path / "bt.csv"), "--bootstrap", "50"])
    assert rc == 0
    bt = pd.read_csv(tmp_path / "bt.csv")
    models = bt[bt["level"] == "model"].set_index("item")
    tau_models = krcc(models.loc[list(strength), "score"].to_numpy(), np.array(list(strength.values())))
    videos = bt[bt["level"] == "video"].set_index("item")
    labels = [r["video"] for r in rows]
    tau_videos = krcc(videos.loc[labels, "score"].to_numpy(), np.array([vid_strength[k + 1] for k in range(20)]))
    with capsys.disabled():
        print(f"\n  simulated pairwise study: {n} answers over HTTP in {took:.1f} s; Kendall tau vs truth: "
              f"models {tau_models:.3f}, videos {tau_videos:.3f}")
    assert tau_models >= 0.8
    assert tau_videos > 0.5


def test_serve_errors_are_messages(tmp_path, clips, capsys):
    import socket

    assert main(["study", "serve", str(tmp_path / "none")]) == 2
    assert "not a study folder" in capsys.readouterr().err
    man = write_manifest(tmp_path / "m.csv", [{"video": str(clips[0])}])
    create_study(tmp_path / "s", man, protocol="acr", dimensions=["quality"], raters=1)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        assert main(["study", "serve", str(tmp_path / "s"), "--port", str(busy.getsockname()[1])]) == 2
        assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
        assert main(["study", "serve", str(tmp_path / "s"), "--min-view", "-1"]) == 2
        assert "--min-view must be" in capsys.readouterr().err
        assert main(["study", "serve", str(tmp_path / "s"), "--port", "70000"]) == 2
        assert "--port must be 0-65535" in capsys.readouterr().err
        assert main(["study", "serve", str(tmp_path / "s"), "--host", "no-such-host.invalid"]) == 2
        assert "--host 'no-such-host.invalid'" in capsys.readouterr().err
    finally:
        busy.close()


def test_ipv6_loopback(tmp_path, clips):
    import socket

    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    man = write_manifest(tmp_path / "m.csv", [{"video": str(clips[0])}])
    create_study(tmp_path / "s", man, protocol="acr", dimensions=["quality"], raters=1)
    try:
        srv = ServerThread(tmp_path / "s", host="::1")
    except Exception as exc:  # noqa: BLE001 - a machine without ::1
        pytest.skip(f"cannot listen on ::1: {exc}")
    with srv:
        r = HttpRater(srv.url, tokens(tmp_path / "s")["r01"])
        assert r.page()["page"] == "instructions"  # Host: [::1]:PORT is a loopback name
