"""The report: self-contained HTML and Markdown, legible at 30 models x 20 dimensions."""

from __future__ import annotations

import re
import struct

import cv2
import numpy as np
import pandas as pd
import pytest

from videojury.analysis.leaderboard import bootstrap_ranks, rank_table
from videojury.bench.aggregate import ACCURACY, FieldInfo
from videojury.report import Example, ReportData, write_report
from videojury.report.build import figures, pick_examples, profile_matrix
from videojury.report.html import leaderboard_table
from videojury.report.thumbs import thumbnail_strip
from videojury.video import write_video

FIELDS = [
    FieldInfo("niqe", "niqe", False, 0.0, None, "naturalness (lower is better)"),
    FieldInfo("flicker", "flicker", True, 0.0, 1.0),
    FieldInfo("dynamic_degree", "dynamic_degree", True, 0.0, 1.0),
    FieldInfo(ACCURACY, "qa", True, 0.0, 1.0),
]


def _strip(rng: np.random.Generator) -> bytes:
    # A smooth strip (as real frames are) so the JPEG stays small.
    base = cv2.resize(rng.integers(0, 255, (4, 20, 3), dtype=np.uint8), (5 * 96 + 8, 72))
    return cv2.imencode(".jpg", base)[1].tobytes()


def big_report_data(n_models: int = 30, n_dims: int = 20, seed: int = 0,
                    strips: bool = True) -> ReportData:
    """A synthetic report of ``n_models`` models x ``n_dims`` dimensions with long names:
    quality falls with the model index on niqe, flicker and accuracy; dynamic_degree is
    random, so sorting by it reorders the table."""
    rng = np.random.default_rng(seed)
    models = [f"generator-{i:02d}" + ("-with-a-rather-long-name" if i % 4 == 1 else "")
              for i in range(n_models)]
    dims = [f"{['motion', 'colour', 'scene', 'style', 'human_action'][j % 5]}_{j:02d}"
            for j in range(n_dims)]
    q = np.linspace(1.0, 0.0, n_models)
    per = pd.DataFrame({"model": models, "niqe": 8 - 4 * q, "flicker": 0.9 + 0.08 * q,
                        "dynamic_degree": rng.uniform(0.2, 0.9, n_models),
                        ACCURACY: 0.5 + 0.4 * q})
    board = rank_table(per, "model", [(f.column, f.higher_is_better) for f in FIELDS])
    long = pd.DataFrame([{"model": m, "prompt_id": f"p{p}",
                          "niqe": per.niqe[i] + rng.normal(0, 1),
                          "flicker": per.flicker[i] + rng.normal(0, 0.02),
                          "dynamic_degree": per.dynamic_degree[i] + rng.normal(0, 0.1),
                          ACCURACY: float(rng.random() < per[ACCURACY][i])}
                         for i, m in enumerate(models) for p in range(20)])
    iv = bootstrap_ranks(long, "model", "prompt_id",
                         [(f.column, f.higher_is_better) for f in FIELDS], n_boot=100, seed=1)
    order = board["model"].tolist()
    mat = pd.DataFrame(np.clip(q[:, None] + rng.normal(0, 0.15, (n_models, n_dims)), 0, 1),
                       index=models, columns=dims).reindex(order)
    field_mats = {f.column: pd.DataFrame(rng.random((n_models, n_dims)), index=order,
                                         columns=dims) for f in FIELDS}
    prof = profile_matrix(per.set_index("model").reindex(order).reset_index(), FIELDS)
    examples = {m: [Example(m, kind, f"/data/{m}/p{j}.mp4", f"{m}/p{j}.mp4", f"p{j:02d}",
                            "a red kite & a <blue> box drifting over a striped meadow", 0.5,
                            {"niqe": 5.0, "flicker": 0.95}, _strip(rng) if strips else None,
                            None if strips else "the video could not be read")
                    for j, kind in enumerate(["best"] * 3 + ["worst"] * 3)] for m in models}
    return ReportData(f"{n_models} models x {n_dims} dimensions", board, FIELDS, "model", iv,
                      mat, field_mats, prof, examples, [("Models", str(n_models))],
                      ["model 'generator-31' has no video for 2 of 20 prompts: p03, p07"])


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    data = big_report_data()
    d = tmp_path_factory.mktemp("report")
    paths = write_report(data, d / "report.html", d / "report.md")
    return data, paths


def test_30x20_html_is_self_contained_and_complete(big):
    data, paths = big
    html = paths["html"].read_text(encoding="utf-8")
    table = re.search(r'<table class="board sortable" id="leaderboard">.*?</table>', html, re.S)
    assert table is not None
    assert table.group(0).count("<tr data-name=") == 30
    # Nothing is fetched at view time: no external URL in any src/href, images inline.
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "http://" not in html and "https://" not in html
    assert html.count("data:image/png;base64,") == 3  # heatmap, bars, profiles
    assert html.count("data:image/jpeg;base64,") == 30 * 6  # best and worst strips
    assert html.count('<table class="board heat">') == len(FIELDS)  # per-field heat tables
    # Text from the data is escaped.
    assert "&lt;blue&gt;" in html and "<blue>" not in html
    assert "1 problem(s) found before scoring" in html
    assert "<script>" in html and "sortBy" in html
    # Medals for the top three, bound to the overall rank.
    assert html.count('class="medal gold"') == 1 and html.count('class="medal bronze"') == 1
    # Realistic size for 180 strips and three figures.
    assert len(html) < 6_000_000


def test_30x20_figures_scale_with_the_data(big):
    data, _ = big
    figs = figures(data)
    w, h = _png_size(figs["dimensions"])
    # Each of the 30 rows and 20 columns gets room for its printed value.
    assert h / 30 >= 25 and w / 20 >= 45
    small = big_report_data(3, 2, strips=False)
    sw, sh = _png_size(figures(small)["dimensions"])
    assert sh < h and sw < w
    _, bh = _png_size(figs["bars"])
    assert bh / 30 >= 15  # a bar per model, labels readable
    pw, ph = _png_size(figs["profiles"])
    assert pw > 1000 and ph > 1000  # 31 radar cells (30 models and the key) in a grid


def test_30x20_markdown(big):
    data, paths = big
    md = paths["markdown"].read_text(encoding="utf-8")
    board = md.split("## Leaderboard", 1)[1].split("##", 1)[0]
    rows = [ln for ln in board.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert len(rows) == 1 + 30
    assert rows[1].startswith("| \N{FIRST PLACE MEDAL} 1 | generator-00 |")
    for link in re.findall(r"\]\(([^)]+)\)", md):
        assert (paths["markdown"].parent / link).is_file(), link
    assert md.count("| best |") == 30 * 3 and md.count("| worst |") == 30 * 3
    assert "### task accuracy per dimension" in md


def test_leaderboard_table_sort_keys():
    df = pd.DataFrame({"model": ["a", "b", "c"], "err": [0.3, 0.1, np.nan], "acc": [0.5, 0.7, 0.9]})
    t = rank_table(df, "model", ["err:lower", "acc:higher"])
    html = leaderboard_table(t)
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    # First click puts the best first: ascending for lower-is-better, descending otherwise.
    assert 'data-first="asc" data-col="err"' in head
    assert 'data-first="desc" data-col="acc"' in head
    # Missing values carry an empty sort key (sorted last) and show a dash.
    row_c = re.search(r'<tr data-name="c">(.*?)</tr>', html).group(1)
    assert 'data-v=""' in row_c and "\u2013" in row_c


def test_thumbnail_strip(tmp_path, clip):
    path = write_video(tmp_path / "v.mp4", clip, fps=8)
    jpg = thumbnail_strip(path, n=5, height=36)
    img = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (36, 5 * 48 + 4 * 2, 3)  # 96x72 frames scaled to 48x36, 2 px gaps
    assert thumbnail_strip(tmp_path / "missing.mp4") is None


def test_pick_examples_best_and_worst():
    scores = pd.DataFrame({
        "video": [f"v{i}.mp4" for i in range(6)], "model": ["m"] * 5 + ["n"],
        "prompt_id": [f"p{i}" for i in range(6)], "prompt": ["x"] * 6,
        "good": [0.9, 0.1, 0.5, 0.7, np.nan, 0.2], "bad": [1.0, 9.0, 5.0, 3.0, np.nan, 2.0],
        "error": [None, None, None, None, "good: decode failed", None],
    })
    fields = [FieldInfo("good", "g", True), FieldInfo("bad", "b", False)]
    seen = []
    ex = pick_examples(scores, fields, k=2, strip_fn=lambda v, n, height: seen.append(v) or b"j")
    m = ex["m"]
    assert [(e.kind, e.video) for e in m] == [("best", "v0.mp4"), ("best", "v3.mp4"),
                                               ("worst", "v4.mp4"), ("worst", "v1.mp4")]
    assert m[2].error == "good: decode failed"  # failed videos are shown among the worst
    assert [e.kind for e in ex["n"]] == ["best"]  # a single video is shown once
    assert len(seen) == 5


def test_markdown_strips_of_models_with_colliding_slugs_and_escaped_prompts(tmp_path):
    # Both names slug to "x": their strips used to share one file, the second overwriting
    # the first. A prompt's <tag> must be shown as text, not passed to the viewer as HTML.
    per = pd.DataFrame({"model": ["模型一", "模型二"], "flicker": [0.9, 0.1]})
    board = rank_table(per, "model", [("flicker", True)])
    fields = [FieldInfo("flicker", "flicker", True, 0.0, 1.0)]
    examples = {m: [Example(m, "best", "/v.mp4", f"{m}/p.mp4", "p", "a sign reading <open>",
                            0.5, {"flicker": 0.5}, m.encode())] for m in per["model"]}
    data = ReportData("t", board, fields, "model", examples=examples,
                      figures={"bars": b"png"})
    md = write_report(data, tmp_path / "r.html", tmp_path / "r.md")["markdown"].read_text(
        encoding="utf-8")
    links = re.findall(r"\]\((r_files/[^)]+\.jpg)\)", md)
    assert len(links) == 2 and len(set(links)) == 2
    assert [(tmp_path / p).read_bytes().decode() for p in links] == ["模型一", "模型二"]
    assert "<open>" not in md and "a sign reading &lt;open&gt;" in md
