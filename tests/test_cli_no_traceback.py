"""Every CLI verb, given bad arguments, ends with one clear message: exit 2 (or 1
for per-item failures), never a Python traceback.

The verbs are discovered from the parser (sub-commands of sub-commands too),
so a new verb is covered the day it is added. Each verb gets: no arguments,
an unknown flag, and for every input it reads (positional arguments and
required input options) a missing file, an empty file, a folder, a junk
text file, a file in an unsupported format and a file that is not UTF-8;
and bad values for every int and float option. ``main()`` runs in-process
(fast); an exception escaping it is a traceback for the user.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

import pytest

from videojury.cli import build_parser, main

# Verbs that, given valid-looking arguments, would start long work or a server;
# they still get every case whose inputs are bad (they fail before starting).
_NO_FILL = {("demo",), ("metrics",)}
# Verbs whose filled arguments still lack a needed optional one; their message
# names that option instead of the file (correlate: --human or --qa; score: -m or
# --suite, since --suite alone may give the metrics).
_NEEDS_MORE = {("correlate",), ("score",)}


def _verbs(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                has_sub = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                if has_sub:
                    yield prefix + (name,), sub
                    yield from _verbs(sub, prefix + (name,))
                else:
                    yield prefix + (name,), sub


VERBS = {path: sub for path, sub in _verbs(build_parser())}


def _is_output(action: argparse.Action) -> bool:
    return any(s in ("-o", "--out", "--output", "--output-dir") for s in action.option_strings)


def _fill(sub: argparse.ArgumentParser, bad: str, out: Path) -> list[str]:
    """Arguments that satisfy the parser, with ``bad`` wherever an input is read."""
    argv: list[str] = []
    for a in sub._actions:
        if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if a.option_strings and not a.required:
            continue
        if a.choices:
            value = str(list(a.choices)[0])
        elif _is_output(a):
            value = str(out)
        elif a.type is int:
            value = "1"
        elif a.type is float:
            value = "1.0"
        elif a.dest == "metric":
            value = "flicker"
        else:
            value = bad
        if a.option_strings:
            argv += [a.option_strings[-1], value]
        else:
            argv.append(value)
    return argv


@pytest.fixture
def bad_files(tmp_path) -> dict[str, Path]:
    d = tmp_path / "in"
    d.mkdir()
    files = {
        "missing": d / "missing_input.csv",
        "empty": d / "empty_input.csv",
        "folder": d / "folder_input",
        "junk": d / "junk_input.csv",
        "xlsx": d / "sheet_input.xlsx",
        "latin1": d / "latin_input.csv",
    }
    files["empty"].write_bytes(b"")
    files["folder"].mkdir()
    files["junk"].write_bytes(b'\x00\x01 not a table\n"unclosed,quote\n')
    files["xlsx"].write_bytes(b"PK\x03\x04 not really a spreadsheet")
    files["latin1"].write_bytes("video,prompt\n\xe9t\xe9.mp4,caf\xe9\n".encode("latin-1"))
    return files


class _Hang(Exception):
    pass


def _run(argv: list[str], capsys) -> tuple[int, str]:
    """``main(argv)`` with a watchdog; the exit status and stderr (an escaping
    exception fails the test: the user would see a traceback)."""

    def _alarm(signum, frame):  # pragma: no cover - only on a hang
        raise _Hang(f"videojury {' '.join(argv)} did not return within 60 s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    try:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    captured = capsys.readouterr()
    return int(code or 0), captured.err + captured.out


def _check(argv, code, text):
    assert "Traceback" not in text, f"videojury {' '.join(argv)}:\n{text}"
    assert code in (1, 2), f"videojury {' '.join(argv)} exited {code}:\n{text}"
    assert text.strip(), f"videojury {' '.join(argv)} exited {code} without a message"


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOJURY_STORE", str(tmp_path / "default-store.sqlite"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


def test_verbs_are_discovered():
    names = {p[0] for p in VERBS}
    assert {"score", "export", "bench", "leaderboard", "report", "mos", "pairs", "correlate",
            "fit", "train", "metrics", "demo"} <= names


@pytest.mark.parametrize("verb", sorted(VERBS), ids=lambda v: "-".join(v))
def test_unknown_flag_and_missing_arguments(verb, tmp_path, capsys):
    filled = [] if verb in _NO_FILL else _fill(VERBS[verb], str(tmp_path / "missing.csv"),
                                               tmp_path / "out" / "x.csv")
    argv = [*verb, *filled, "--no-such-flag"]
    code, text = _run(argv, capsys)
    _check(argv, code, text)
    assert code == 2 and "unrecognized arguments: --no-such-flag" in text
    if verb not in _NO_FILL and any(
            a.required or not a.option_strings for a in VERBS[verb]._actions
            if not isinstance(a, argparse._HelpAction)):
        code, text = _run(list(verb), capsys)
        _check(list(verb), code, text)
        assert code == 2


@pytest.mark.parametrize("verb", sorted(v for v in VERBS if v not in _NO_FILL),
                         ids=lambda v: "-".join(v))
def test_bad_input_files(verb, bad_files, tmp_path, capsys):
    sub = VERBS[verb]
    for kind, path in bad_files.items():
        argv = [*verb, *_fill(sub, str(path), tmp_path / "out" / f"{kind}.csv")]
        code, text = _run(argv, capsys)
        if verb == ("export",) and kind == "empty":
            # A 0-byte file is an empty SQLite database: an empty store, 0 rows.
            assert "Traceback" not in text
            continue
        _check(argv, code, text)
        if "usage:" in text or verb in _NEEDS_MORE:
            continue
        # The message names the file it is about.
        assert path.name in text, (argv, text)


@pytest.mark.parametrize("verb", sorted(VERBS), ids=lambda v: "-".join(v))
def test_bad_option_values(verb, bad_files, tmp_path, capsys):
    sub = VERBS[verb]
    base = [] if verb in _NO_FILL else _fill(sub, str(bad_files["missing"]),
                                             tmp_path / "out" / "x.csv")
    for a in sub._actions:
        if not a.option_strings or a.type not in (int, float):
            continue
        for value in (["abc", "-5"] if a.type is int else ["abc", "nan", "-inf"]):
            argv = [*verb, *base, a.option_strings[-1], value]
            if verb in _NO_FILL and value == "-5":
                continue  # would run (demo) with a value argparse accepts; see the demo tests
            code, text = _run(argv, capsys)
            _check(argv, code, text)


def test_demo_and_metrics_bad_values(tmp_path, capsys):
    (tmp_path / "a file").write_text("x")
    for argv in (["demo", "--clips", "abc"], ["metrics", "--json", "extra"],
                 ["demo", "--out", str(tmp_path / "a file"), "--clips", "0"],
                 ["demo", "--clips", "0"], ["demo", "--clips", "-5"],
                 ["demo", "--metric", "nosuch"]):
        code, text = _run(argv, capsys)
        _check(argv, code, text)
        assert code == 2


def test_no_rich_markup_tags_in_cli_strings():
    """The consoles print text as it is (markup=False), so a markup tag in a CLI
    string would show up literally: colour goes through ``styled(...)``."""
    import re

    import videojury.cli as cli

    tag = re.compile(r"\[/?(bold|yellow|red|green|dim|cyan|blue|magenta|italic|underline)\b[^\]]*\]"
                     r"|\[/\]")
    found = []
    for path in sorted(Path(cli.__file__).parent.glob("*.py")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if tag.search(line):
                found.append(f"{path.name}:{lineno}: {line.strip()}")
    assert not found, "\n".join(found)
    assert not cli.console._markup and not cli.out._markup


@pytest.fixture(scope="module")
def valid_inputs(tmp_path_factory) -> dict[tuple[str, ...], list[str]]:
    """Arguments that run each of these verbs successfully (small inputs, made once)."""
    tmp_path = tmp_path_factory.mktemp("valid")
    import numpy as np
    import pandas as pd

    from videojury.video import write_video

    rng = np.random.default_rng(0)
    video = write_video(tmp_path / "v.mp4", rng.integers(0, 256, (6, 32, 32, 3), np.uint8), fps=8)
    vids = [f"v{i}.mp4" for i in range(6)]
    ratings = tmp_path / "ratings.csv"
    pd.DataFrame([{"rater": f"r{r}", "video": v, "score": int(rng.integers(1, 6))}
                  for r in range(4) for v in vids]).to_csv(ratings, index=False)
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame([{"video_a": a, "video_b": b, "winner": "ab"[(i + j) % 2]}
                  for i, a in enumerate(vids) for j, b in enumerate(vids) if i < j]
                 ).to_csv(pairs, index=False)
    pred, human = tmp_path / "pred.csv", tmp_path / "mos.csv"
    pd.DataFrame({"video": vids, "s": rng.random(6)}).to_csv(pred, index=False)
    pd.DataFrame({"video": vids, "mos": rng.random(6) * 4 + 1}).to_csv(human, index=False)
    store = tmp_path / "s.sqlite"
    assert main(["score", str(video), "-m", "flicker", "--store", str(store), "--quiet"]) == 0
    board = tmp_path / "board.csv"
    pd.DataFrame({"model": ["m1", "m2", "m3"], "s": [0.1, 0.5, 0.9],
                  "t": [3.0, 2.0, 1.0]}).to_csv(board, index=False)
    from videojury.bench.synthetic import make_synthetic_bench

    suite, videos = make_synthetic_bench(tmp_path / "bench", models=[("a", 1), ("b", 2)],
                                         n_prompts=2)
    bench_out = tmp_path / "bench_out"
    assert main(["bench", str(suite), str(videos), "-m", "flicker", "--no-store", "--out",
                 str(bench_out), "--bootstrap", "0", "--quiet"]) == 0
    cands = tmp_path / "cands.csv"
    pd.DataFrame([{"video": str(f), "prompt_id": f.stem} for f in sorted(videos.rglob("*.mp4"))]
                 ).to_csv(cands, index=False)
    return {
        ("leaderboard",): [str(board), "-m", "s:higher", "-m", "t:lower", "-n", "model"],
        ("bench",): [str(suite), str(videos), "-m", "flicker", "--no-store", "--out",
                     str(tmp_path / "bench_out2"), "--quiet"],
        ("report",): [str(bench_out), "--no-thumbs"],
        ("best-of-n",): [str(cands), "-m", "flicker", "-o", str(tmp_path / "picks.csv"),
                         "--no-store", "--quiet", "--resamples", "20"],
        ("score",): [str(video), "-m", "flicker", "--no-store", "--quiet"],
        ("mos",): [str(ratings), "-o", str(tmp_path / "mos_out.csv")],
        ("pairs",): [str(pairs), "-o", str(tmp_path / "pairs_out.csv")],
        ("correlate",): [str(pred), "--human", str(human), "--higher-better", "s"],
        ("export",): [str(store), "-o", str(tmp_path / "export.csv")],
    }


@pytest.mark.parametrize("verb", [("score",), ("mos",), ("pairs",), ("correlate",), ("export",),
                                  ("leaderboard",), ("bench",), ("report",), ("best-of-n",)],
                         ids=lambda v: "-".join(v))
def test_bad_option_values_with_valid_inputs(verb, valid_inputs, capsys):
    """With inputs that are fine, every int/float option given a bad value still
    ends in a message (or runs, where the value is legal), never a traceback."""
    good = valid_inputs[verb]
    capsys.readouterr()
    code, text = _run([*verb, *good], capsys)
    assert code == 0, text
    for a in VERBS[verb]._actions:
        if not a.option_strings or a.type not in (int, float):
            continue
        for value in (["abc", "-5"] if a.type is int else ["abc", "nan", "-inf", "-5"]):
            argv = [*verb, *good, a.option_strings[-1], value]
            if a.dest in ("workers", "gpus_per_worker", "address"):
                argv += ["--backend", "ray"]
            code, text = _run(argv, capsys)
            assert "Traceback" not in text, f"{argv}\n{text}"
            assert code in (0, 1, 2), f"{argv} exited {code}:\n{text}"
            if value in ("abc", "nan", "-inf"):
                assert code == 2, f"{argv} accepted {value!r}:\n{text}"
