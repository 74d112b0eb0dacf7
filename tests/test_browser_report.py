"""The report in a real browser: headless Chromium opens it from disk, the leaderboard has
one row per model, clicking a header re-sorts it, and nothing is fetched from the network.

Needs Debian's ``chromium`` and the ``playwright`` Python package (which drives that
binary; no ``playwright install``). Skips with the reason when either is missing. Set
``VIDEOJURY_SCREENSHOT_DIR`` to keep the screenshot (the docs' ``docs/img/report.png``
is made that way).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from videojury.bench import check_videos, run_bench
from videojury.bench.synthetic import make_synthetic_bench
from videojury.data.suites import load_suite
from videojury.report import write_report

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the playwright Python package is not installed (pip install playwright; it drives "
           "the system chromium, no browser download needed)")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _chromium() -> str | None:
    env = os.environ.get("VIDEOJURY_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set VIDEOJURY_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        try:
            ctx = p.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")), executable_path=exe,
                headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        except Exception as exc:  # noqa: BLE001 - a broken browser install is a skip reason
            pytest.skip(f"Chromium at {exe} did not start under Playwright: {exc}")
        yield ctx
        ctx.close()


def _open(ctx, path: Path):
    """A page showing ``path``, recording every request that is not to a local file."""
    page = ctx.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:"))
            else outside.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("#leaderboard tbody tr")
    return page, outside


def _names(page) -> list[str]:
    return page.eval_on_selector_all("#leaderboard tbody tr",
                                     "rows => rows.map(r => r.getAttribute('data-name'))")


def test_bench_report_renders_sorts_and_screenshots(browser, tmp_path):
    models = [(f"t2v-level{lv}", lv) for lv in range(4)]
    suite_path, videos = make_synthetic_bench(tmp_path / "bench", models=models)
    check = check_videos(load_suite(suite_path), videos)
    result = run_bench(check, ["flicker", "frozen"], None, bootstrap=200)
    html = write_report(result, tmp_path / "report.html")["html"]

    page, outside = _open(browser, html)
    # The screenshot shows the page as opened: leaderboard, heatmap and the metric bars.
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": 1600})
    page.screenshot(path=str(tmp_path / "report-full.png"), full_page=True)
    assert shot.stat().st_size > 20_000
    keep = os.environ.get("VIDEOJURY_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "report.png")
    ranked = [m for m, _ in models]
    assert _names(page) == ranked
    assert page.locator("#leaderboard tbody tr").count() == len(models)
    rank_th = page.locator("#leaderboard thead th").nth(0)
    assert rank_th.get_attribute("aria-sort") == "ascending"
    rank_th.click()  # second direction: worst first
    assert _names(page) == ranked[::-1]
    assert rank_th.get_attribute("aria-sort") == "descending"
    page.locator('#leaderboard th[data-col="frozen_ratio"]').click()  # lower is better first
    assert _names(page) == ranked
    assert rank_th.get_attribute("aria-sort") is None
    # Figures and thumbnails are inline images that actually decoded.
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) >= 3 + 4 * 6 and min(widths) > 0
    assert outside == []
    page.close()


def test_thirty_model_leaderboard_sorts_by_any_column(browser, tmp_path):
    from tests.test_report import big_report_data

    data = big_report_data(strips=False)
    # The table is under test here, not the figures: skip drawing them.
    data.figures = {"bars": b"\x89PNG\r\n\x1a\n"}
    html = write_report(data, tmp_path / "big.html")["html"]
    page, outside = _open(browser, html)
    board = data.leaderboard
    assert _names(page) == board["model"].tolist()
    assert len(_names(page)) == 30
    th = page.locator('#leaderboard th[data-col="dynamic_degree"]')
    th.click()  # higher is better: best first
    by_dd = board.sort_values("dynamic_degree", ascending=False)["model"].tolist()
    assert _names(page) == by_dd and by_dd != board["model"].tolist()
    th.click()
    assert _names(page) == by_dd[::-1]
    page.locator("#leaderboard thead th").nth(1).click()  # the name column, A to Z
    assert _names(page) == sorted(board["model"].tolist(), key=str.lower)
    page.locator("#leaderboard thead th").nth(1).press("Enter")  # keyboard works too
    assert _names(page) == sorted(board["model"].tolist(), key=str.lower, reverse=True)
    assert outside == []
    page.close()
