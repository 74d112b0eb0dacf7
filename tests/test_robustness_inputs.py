"""Hostile and unusual inputs on the input side: videos (V*), manifests (M*)
and metric specs (S*), plus the markup cases of bench (L13) and correlate
(H26); one test per case of /work/shared/reference/robustness-cases.md.

Each test makes its input itself and asserts the verdict the case must have:
a score, a per-item error row that says what is wrong with that video, or
exit 2 with one message naming the file, row, column or option. Run through
the CLI in-process (``main([...])``), as a user would, with no store.

Not here (other suites): V2 rotation, V24 long-GOP seeking, V25 memory
(test_rotation / test_decode_seek / test_streaming), V34 (test_robustness_store),
M25/M26 output paths, S11 model-load errors (the pipeline tests).
"""

from __future__ import annotations

import os
import stat
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from videojury.cli import main
from videojury.data.synthetic import ClipSpec, make_clip
from videojury.errors import MetricError
from videojury.metrics.base import load_metric, parse_spec
from videojury.video import write_video

SPEC = ClipSpec(width=96, height=72, frames=16, fps=8.0)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return make_clip(3, SPEC)


@pytest.fixture(scope="module")
def good(tmp_path_factory, clip) -> Path:
    d = tmp_path_factory.mktemp("good")
    return write_video(d / "good.mp4", clip, fps=8)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOJURY_STORE", str(tmp_path / "default-store.sqlite"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def score(tmp_path: Path, capsys, *inputs, metrics=("flicker",),
          args=()) -> tuple[int, str, pd.DataFrame | None]:
    """``videojury score``: exit status, everything printed, and the results table."""
    out = tmp_path / f"res{len(list(tmp_path.glob('res*.csv')))}.csv"
    argv = ["score", *map(str, inputs)]
    for m in metrics:
        argv += ["-m", m]
    argv += ["--no-store", "-o", str(out), *args]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    cap = capsys.readouterr()
    text = cap.err + cap.out
    assert "Traceback" not in text
    return code, text, (pd.read_csv(out) if out.exists() else None)


def errors(df: pd.DataFrame) -> list[str]:
    return [e for e in df["error"].tolist() if isinstance(e, str)]


def _rgb(h, w, t=8, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)


# ============================================================== videos (V*)

def test_V1_variable_frame_rate_mp4_scores(tmp_path, capsys, clip):
    import av

    p = tmp_path / "vfr.mp4"
    with av.open(str(p), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 96, 72, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for i, arr in enumerate(clip):
            f = av.VideoFrame.from_ndarray(arr, format="rgb24")
            f.pts, f.time_base = pts, Fraction(1, 1000)
            pts += (20, 40, 80)[i % 3]
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    code, _, df = score(tmp_path, capsys, p, metrics=("flicker", "frozen", "dynamic_degree"))
    assert code == 0 and not errors(df)


@pytest.mark.parametrize("case,pix_fmt", [("V3", "yuv420p10le"), ("V4", "yuv444p")])
def test_V3_V4_high_bit_depth_and_444_score(tmp_path, capsys, clip, case, pix_fmt):
    p = write_video(tmp_path / f"{case}.mp4", clip, fps=8, pix_fmt=pix_fmt)
    code, _, df = score(tmp_path, capsys, p)
    assert code == 0 and 0.0 < df["flicker"].iloc[0] <= 1.0


def test_V5_vp9_webm_with_alpha_scores(tmp_path, capsys, clip):
    import av

    p = tmp_path / "alpha.webm"
    with av.open(str(p), "w") as c:
        s = c.add_stream("libvpx-vp9", rate=8)
        s.width, s.height, s.pix_fmt = 96, 72, "yuva420p"
        for arr in clip[:6]:
            rgba = np.dstack([arr, np.full(arr.shape[:2], 128, np.uint8)])
            for pkt in s.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    code, _, df = score(tmp_path, capsys, p)
    assert code == 0 and not errors(df)


def test_V6_audio_only_mp4_is_an_error_row(tmp_path, capsys, good):
    import av

    p = tmp_path / "audio.mp4"
    with av.open(str(p), "w") as c:
        s = c.add_stream("aac", rate=16000)
        s.layout = "mono"
        for i in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
            f.sample_rate, f.pts = 16000, i * 1024
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    code, _, df = score(tmp_path, capsys, p, good)
    assert code == 1
    assert "contains no video stream" in errors(df)[0]


def test_V7_video_track_with_no_samples(tmp_path, capsys, good):
    import av

    p = tmp_path / "nosamples.mp4"
    with av.open(str(p), "w") as c:
        s = c.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        c.start_encoding()  # header written, no sample
    code, _, df = score(tmp_path, capsys, p, good)
    assert code == 1
    [err] = errors(df)
    assert "nosamples.mp4" in df["video"][df["error"].notna()].iloc[0]
    assert "no frames" in err or "no video stream" in err or "cannot be opened" in err


def test_V8_corrupted_middle_is_an_error_row_or_scores(tmp_path, capsys, clip):
    p = write_video(tmp_path / "c.mp4", np.concatenate([clip, clip, clip]), fps=8)
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 2048] = np.random.default_rng(1).integers(0, 256, 2048, np.uint8).tobytes()
    p.write_bytes(bytes(data))
    code, _, df = score(tmp_path, capsys, p)
    # FFmpeg may conceal the damage; if it cannot, the row says so.
    assert code in (0, 1)
    if code == 1:
        assert "corrupt" in errors(df)[0] or "truncated" in errors(df)[0]


def test_V9_truncated_with_moov_at_end(tmp_path, capsys, clip):
    p = write_video(tmp_path / "t.mp4", clip, fps=8)
    p.write_bytes(p.read_bytes()[: int(p.stat().st_size * 0.6)])
    code, _, df = score(tmp_path, capsys, p)
    assert code == 1 and "cannot be opened as a video" in errors(df)[0]
    assert "complete" in errors(df)[0]


def test_V10_truncated_faststart(tmp_path, capsys, clip):
    import av

    p = tmp_path / "fs.mp4"
    frames = np.concatenate([clip, clip, clip])
    with av.open(str(p), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = 96, 72, "yuv420p"
        for arr in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    p.write_bytes(p.read_bytes()[: int(p.stat().st_size * 0.6)])
    code, _, df = score(tmp_path, capsys, p)
    assert code == 1
    err = errors(df)[0]
    assert "ends after frame" in err or "truncated" in err


def test_V11_truncated_to_300_bytes(tmp_path, capsys, good):
    p = tmp_path / "tiny.mp4"
    p.write_bytes(good.read_bytes()[:300])
    code, _, df = score(tmp_path, capsys, p)
    assert code == 1 and "cannot be opened as a video" in errors(df)[0]


def test_V12_one_pixel_video_gives_clear_messages(tmp_path, capsys):
    p = write_video(tmp_path / "px.mp4", _rgb(1, 1), fps=8, pix_fmt="yuv444p")
    code, _, df = score(tmp_path, capsys, p, metrics=("dynamic_degree", "motion_smoothness",
                                                       "niqe:frames=2"))
    assert code == 1
    [err] = errors(df)
    assert "OpenCV" not in err and "cpp" not in err
    assert ("optical flow needs frames with a short side of at least 8 and a long side of at "
            "least 12 pixels, got 1x1") in err
    assert "NIQE needs an image of at least 96x96" in err


def test_V13_16x16_video_niqe_says_the_minimum_others_score(tmp_path, capsys):
    p = write_video(tmp_path / "s16.mp4", _rgb(16, 16, 12), fps=8)
    code, _, df = score(tmp_path, capsys, p, metrics=("niqe:frames=2", "flicker", "frozen",
                                                       "dynamic_degree"))
    assert code == 1
    assert "needs at least 96x96" in errors(df)[0].replace("an image of ", "")
    assert df["flicker"].notna().all() and df["dynamic_degree"].notna().all()


def test_V14_4k_frames_score(tmp_path, capsys):
    p = write_video(tmp_path / "uhd.mp4", np.repeat(_rgb(2160, 3840, 1), 3, axis=0), fps=8,
                    codec="mpeg4", crf=None)  # mpeg4 encodes 4K far faster than x264
    code, _, df = score(tmp_path, capsys, p, metrics=("flicker", "frozen"))
    assert code == 0 and not errors(df) and 0.9 < df["flicker"].iloc[0] <= 1.0


def test_V15_one_frame_mp4_names_the_frame_count(tmp_path, capsys):
    p = write_video(tmp_path / "one.mp4", _rgb(72, 96, 1), fps=8)
    code, _, df = score(tmp_path, capsys, p)
    assert code == 1 and "has 1 frame(s) but sampling all needs at least 2" in errors(df)[0]


def test_V16_animated_gif(tmp_path, capsys, clip):
    from PIL import Image

    p = tmp_path / "anim.gif"
    imgs = [Image.fromarray(a) for a in clip[:6]]
    imgs[0].save(p, save_all=True, append_images=imgs[1:], duration=125, loop=0)
    code, _, df = score(tmp_path, capsys, p, metrics=("flicker", "niqe:frames=2"))
    assert code == 1
    assert df["flicker"].notna().all() and "96x96" in errors(df)[0]


def test_V17_png_scores_per_frame_metrics_temporal_ones_say_min_frames(tmp_path, capsys):
    import cv2

    p = tmp_path / "img.png"
    cv2.imwrite(str(p), _rgb(128, 128, 1)[0])
    code, _, df = score(tmp_path, capsys, p, metrics=("niqe", "flicker"))
    assert code == 1
    assert df["niqe"].notna().all() and "needs at least 2" in errors(df)[0]


def test_V18_non_ascii_name_with_spaces(tmp_path, capsys, clip):
    p = write_video(tmp_path / "vidéo d'été 1.mp4", clip, fps=8)
    code, _, df = score(tmp_path, capsys, p)
    assert code == 0 and df["video"].iloc[0] == str(p)


def test_V19_symlink_loop_argument_is_named_a_loop(tmp_path, capsys, good):
    a, b = tmp_path / "loop_a.mp4", tmp_path / "loop_b.mp4"
    a.symlink_to(b)
    b.symlink_to(a)
    code, _, df = score(tmp_path, capsys, good, a)
    assert code == 1
    [err] = errors(df)
    assert "symbolic link loop" in err and "does not exist" not in err


def test_V19_symlink_loop_as_the_manifest(tmp_path, capsys):
    m = tmp_path / "m.csv"
    m.symlink_to(m)
    assert "m.csv: is a broken or looping symbolic link" in _manifest_error(tmp_path, capsys, m)


def test_V20_symlink_loop_and_broken_link_in_a_folder_are_rows(tmp_path, capsys, good):
    d = tmp_path / "scan"
    d.mkdir()
    (d / "good.mp4").symlink_to(good)
    (d / "x.mp4").symlink_to(d / "y.mp4")
    (d / "y.mp4").symlink_to(d / "x.mp4")
    (d / "gone.mp4").symlink_to(d / "nothing-here.mp4")
    (d / "loopdir").symlink_to(d)  # a folder loop is not walked forever
    code, _, df = score(tmp_path, capsys, d)
    assert code == 1
    by = dict(zip(df["video"].map(lambda v: Path(v).name), df["error"]))
    assert pd.isna(by["good.mp4"])
    assert "symbolic link loop" in by["x.mp4"] and "symbolic link loop" in by["y.mp4"]
    assert "broken symbolic link" in by["gone.mp4"] and "nothing-here.mp4" in by["gone.mp4"]
    assert len(df) == 4


def test_V21_folder_named_like_a_video_among_arguments_is_one_error_row(tmp_path, capsys, good):
    (tmp_path / "x.mp4").mkdir()
    code, _, df = score(tmp_path, capsys, good, tmp_path / "x.mp4")
    assert code == 1 and len(df) == 2
    assert "is a directory, not a video file" in errors(df)[0]


def test_V22_folder_in_a_manifest_is_an_error_row(tmp_path, capsys, good):
    (tmp_path / "d.mp4").mkdir()
    m = tmp_path / "m.csv"
    m.write_text(f"video\n{good}\nd.mp4\n")
    code, _, df = score(tmp_path, capsys, m)
    assert code == 1 and "is a directory, not a video file" in errors(df)[0]


def test_V23_unreadable_file(tmp_path, capsys, good):
    p = tmp_path / "locked.mp4"
    p.write_bytes(good.read_bytes())
    p.chmod(0)
    try:
        code, _, df = score(tmp_path, capsys, p)
    finally:
        p.chmod(0o644)
    if os.geteuid() == 0:  # root reads it anyway
        assert code == 0
    else:
        assert code == 1 and "Permission denied" in errors(df)[0]


def test_V26_text_file_named_mp4(tmp_path, capsys):
    p = tmp_path / "notes.mp4"
    p.write_text("not a video\n")
    code, _, df = score(tmp_path, capsys, p)
    assert code == 1 and "cannot be opened as a video" in errors(df)[0]


def test_V27_empty_file(tmp_path, capsys):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    code, _, df = score(tmp_path, capsys, p)
    assert code == 1 and "file is empty (0 bytes)" in errors(df)[0]


def test_V28_png_renamed_mp4_scores(tmp_path, capsys):
    import cv2

    ok, buf = cv2.imencode(".png", _rgb(128, 128, 1)[0])
    p = tmp_path / "picture.mp4"
    p.write_bytes(buf.tobytes())
    code, _, df = score(tmp_path, capsys, p, metrics=("niqe",))
    assert code == 0 and np.isfinite(df["niqe"].iloc[0])


def test_V29_corrupt_png(tmp_path, capsys):
    p = tmp_path / "broken.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    code, _, df = score(tmp_path, capsys, p, metrics=("niqe",))
    assert code == 1 and "cannot be decoded as an image" in errors(df)[0]


@pytest.mark.parametrize("case", ["V30", "V31"])
def test_V30_V31_16bit_gray_and_rgba_png_score(tmp_path, capsys, case):
    import cv2

    rng = np.random.default_rng(0)
    if case == "V30":
        img = rng.integers(0, 65536, (128, 128), dtype=np.uint16)
    else:
        img = rng.integers(0, 256, (128, 128, 4), dtype=np.uint8)
    p = tmp_path / f"{case}.png"
    cv2.imwrite(str(p), img)
    code, _, df = score(tmp_path, capsys, p, metrics=("niqe",))
    assert code == 0 and np.isfinite(df["niqe"].iloc[0])


@pytest.mark.slow
def test_V32_12_megapixel_jpeg_scores(tmp_path, capsys):
    import cv2

    p = tmp_path / "big.jpg"
    cv2.imwrite(str(p), _rgb(3000, 4000, 1)[0])
    code, _, df = score(tmp_path, capsys, p, metrics=("brisque",))
    assert code == 0 and np.isfinite(df["brisque"].iloc[0])


def test_V33_fifo_and_device_in_a_manifest_are_refused_without_hanging(tmp_path, capsys, good):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    m = tmp_path / "m.csv"
    m.write_text(f"video\n{good}\n{fifo}\n/dev/zero\n")
    for store_args in (["--no-store"], ["--store", str(tmp_path / "s.sqlite")]):
        # Hashing for the store must not open them either.
        argv = ["score", str(m), "-m", "flicker", "-o", str(tmp_path / "r.csv"), *store_args]
        assert main(argv) == 1
        df = pd.read_csv(tmp_path / "r.csv")
        by = dict(zip(df["video"], df["error"]))
        assert "named pipe (FIFO)" in by[str(fifo)]
        assert "is a device" in by["/dev/zero"]
        assert pd.isna(by[str(good)])
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_V33_fifo_as_the_manifest_or_a_table_is_refused_without_hanging(tmp_path, capsys, good):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    err = _manifest_error(tmp_path, capsys, fifo)
    assert "pipe.csv: is not a regular file (a named pipe, socket or device)" in err
    for argv in (["mos", str(fifo)], ["correlate", str(fifo), "--human", str(fifo)]):
        assert main(argv) == 2
        assert "is not a regular file" in capsys.readouterr().err


def test_V35_brackets_in_file_names_are_shown_as_they_are(tmp_path, capsys, clip):
    a = write_video(tmp_path / "scene [draft] 01.mp4", clip, fps=8)
    b = write_video(tmp_path / "take [v2].mp4", clip, fps=8)
    assert main(["score", str(a), str(b), "-m", "flicker", "--no-store"]) == 0
    out = capsys.readouterr().out
    assert "scene [draft] 01.mp4" in out and "take [v2].mp4" in out


def test_V36_duplicate_inputs_are_scored_and_listed_once_with_a_warning(tmp_path, capsys, good):
    code, text, df = score(tmp_path, capsys, good, good, good)
    assert code == 0 and len(df) == 1
    assert "warning: 2 duplicate input(s) ignored" in text
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt\n{good},a\n{good},b\n")
    code, text, df = score(tmp_path, capsys, m, m)
    assert code == 0 and len(df) == 2 and df["prompt"].tolist() == ["a", "b"]
    assert "2 duplicate input(s) ignored" in text and "m.csv row 1 repeats" in text


# ============================================================== manifests (M*)

def _manifest_error(tmp_path, capsys, m, *, metrics=("flicker",), args=()) -> str:
    code, text, _ = score(tmp_path, capsys, m, metrics=metrics, args=args)
    assert code == 2, text
    line = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert len(line) == 1, text
    return line[0]


def test_M1_csv_with_bom(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt\n{good},a cat\n", encoding="utf-8-sig")
    code, _, df = score(tmp_path, capsys, m)
    assert code == 0 and df["prompt"].tolist() == ["a cat"]


def test_M2_latin1_csv(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_bytes(f"video,prompt\n{good},caf\xe9\n".encode("latin-1"))
    err = _manifest_error(tmp_path, capsys, m)
    assert "m.csv" in err and "not valid UTF-8" in err and "save the file as UTF-8" in err


def test_M3_semicolon_csv(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"video;prompt;model\n{good};a;b\n")
    err = _manifest_error(tmp_path, capsys, m)
    assert "no 'video' column (columns found: video;prompt;model)" in err


def test_M4_no_video_column(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"file,prompt\n{good},a\n")
    assert "columns found: file, prompt" in _manifest_error(tmp_path, capsys, m)


def test_M5_M6_empty_file_and_header_only(tmp_path, capsys):
    m = tmp_path / "m.csv"
    m.write_text("")
    assert "the file is empty" in _manifest_error(tmp_path, capsys, m)
    m.write_text("video,prompt\n")
    assert "the manifest has no rows" in _manifest_error(tmp_path, capsys, m)


def test_M7_duplicate_rows(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt\n{good},a\n{good},b\n{good},a\n")
    assert "row 3: duplicate of row 1" in _manifest_error(tmp_path, capsys, m)


def test_M8_same_video_spelled_two_ways(tmp_path, capsys, clip):
    vids = tmp_path / "vids"
    write_video(vids / "a.mp4", clip, fps=8)
    m = tmp_path / "m.csv"
    m.write_text("video\nvids/a.mp4\nvids/../vids/a.mp4\n")
    code, text, df = score(tmp_path, capsys, m)
    assert code == 0 and len(df) == 2
    assert df["flicker"].iloc[0] == df["flicker"].iloc[1]
    assert "1 computed" in text  # one compute for both rows


def test_M11_literal_nan_prompt_is_text(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt\n{good},NaN\n")
    code, _, df = score(tmp_path, capsys, m)
    assert code == 0
    assert pd.read_csv(tmp_path / "res0.csv", keep_default_na=False)["prompt"].tolist() == ["NaN"]


def test_M12_jsonl_with_a_broken_line(tmp_path, capsys, good):
    m = tmp_path / "m.jsonl"
    m.write_text(f'{{"video": "{good}"}}\n{{"video": \n')
    assert "m.jsonl line 2: not valid JSON" in _manifest_error(tmp_path, capsys, m)


def test_M13_parquet_int_video_and_float_prompt_are_refused(tmp_path, capsys, good):
    m = tmp_path / "m.parquet"
    pd.DataFrame({"video": [1, 2], "prompt": ["a", "b"]}).to_parquet(m)
    err = _manifest_error(tmp_path, capsys, m)
    assert "column 'video' holds int64 values, expected paths" in err
    pd.DataFrame({"video": [str(good)], "prompt": [3.5]}).to_parquet(m)
    err = _manifest_error(tmp_path, capsys, m)
    assert "column 'prompt' holds float64 values, expected text" in err


def test_M14_parquet_bytes_video_and_list_prompt_are_refused(tmp_path, capsys, good):
    m = tmp_path / "m.parquet"
    pd.DataFrame({"video": [str(good).encode()], "prompt": ["a"]}).to_parquet(m)
    err = _manifest_error(tmp_path, capsys, m)
    assert "row 1, column 'video': expected a path, got bytes" in err
    pd.DataFrame({"video": [str(good)], "prompt": [["a", "b"]]}).to_parquet(m)
    err = _manifest_error(tmp_path, capsys, m)
    assert "row 1, column 'prompt': expected text, got a list (['a', 'b'])" in err
    # Ids and labels may be numbers: written plainly.
    pd.DataFrame({"video": [str(good)], "prompt_id": [7], "model": [2.0]}).to_parquet(m)
    code, _, df = score(tmp_path, capsys, m)
    assert code == 0 and df["prompt_id"].tolist() == [7] and df["model"].tolist() == [2]


def test_M15_absolute_and_deep_relative_paths(tmp_path, capsys, good):
    sub = tmp_path / "a" / "b" / "c" / "d"
    sub.mkdir(parents=True)
    rel = os.path.relpath(good, sub)
    m = sub / "m.csv"
    m.write_text(f"video\n{good}\n{rel}\n")
    code, _, df = score(tmp_path, capsys, m)
    assert code == 0 and len(df) == 2


def test_M17_prompt_with_newlines_quotes_commas_tabs_round_trips(tmp_path, capsys, good):
    prompt = 'a "quoted", comma\tand\nnew line'
    m = tmp_path / "m.csv"
    pd.DataFrame({"video": [str(good)], "prompt": [prompt]}).to_csv(m, index=False)
    code, _, df = score(tmp_path, capsys, m)
    assert code == 0 and df["prompt"].tolist() == [prompt]


def test_M18_empty_video_cell(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt\n{good},a\n,b\n")
    assert "row 2, column 'video': empty" in _manifest_error(tmp_path, capsys, m)


def test_M19_one_ragged_row(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt\n{good},a\n{good},b\n{good},c,d,e\n{good},f\n")
    err = _manifest_error(tmp_path, capsys, m)
    assert "m.csv line 4: 4 fields but the header has 2" in err


def test_M20_unquoted_comma_in_every_prompt(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt\n{good},a cat, running\n{good},a dog, jumping\n")
    err = _manifest_error(tmp_path, capsys, m)
    assert "m.csv line 2: 3 fields but the header has 2 (video,prompt)" in err
    assert "double quotes" in err
    # Empty trailing fields (a spreadsheet's trailing commas) do not shift columns.
    m.write_text(f"video,prompt\n{good},a cat,\n")
    code, _, df = score(tmp_path, capsys, m)
    assert code == 0 and df["prompt"].tolist() == ["a cat"] and df["video"].tolist() == [str(good)]


def test_M21_duplicate_column_names(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt,prompt\n{good},a,b\n")
    code, _, df = score(tmp_path, capsys, m)
    assert code == 0 and df["prompt"].tolist() == ["a"] and df["prompt.1"].tolist() == ["b"]


def test_M22_json_list_with_a_non_object(tmp_path, capsys, good):
    m = tmp_path / "m.json"
    m.write_text(f'[{{"video": "{good}"}}, "oops"]')
    err = _manifest_error(tmp_path, capsys, m)
    assert "element 2 of the list is a str, expected a JSON object" in err
    assert "dictionary update" not in err


def test_M23_prompts_file_matching_no_video(tmp_path, capsys, clip):
    d = tmp_path / "vids"
    write_video(d / "a.mp4", clip, fps=8)
    p = tmp_path / "prompts.json"
    p.write_text('{"zebra.mp4": "a zebra"}')
    err = _manifest_error(tmp_path, capsys, d, args=["--prompts", str(p)])
    assert "prompts.json: none of its 1 prompt(s) matches any of the 1 video(s)" in err
    assert "'zebra.mp4'" in err and "'a.mp4'" in err


def test_M24_prompts_json_with_a_non_string_value(tmp_path, capsys, clip):
    d = tmp_path / "vids"
    write_video(d / "a.mp4", clip, fps=8)
    p = tmp_path / "prompts.json"
    p.write_text('{"a.mp4": 5}')
    err = _manifest_error(tmp_path, capsys, d, args=["--prompts", str(p)])
    assert "the prompt for 'a.mp4' is an integer, not text" in err


def test_M27_markup_in_prompt_and_model_is_shown_as_is(tmp_path, capsys, good):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt,model\n{good},a cat [/b] tag,[/b]x\n")
    assert main(["score", str(m), "-m", "flicker", "--no-store"]) == 0
    out = capsys.readouterr().out
    assert "a cat [/b] tag" in out and "[/b]x" in out


# ============================================================== metric specs (S*)

def _spec_error(tmp_path, capsys, good, spec) -> str:
    code, text, _ = score(tmp_path, capsys, good, metrics=(spec,))
    assert code == 2, text
    [line] = [ln for ln in text.splitlines() if ln.startswith("error:")]
    return line


def test_S1_unknown_metric(tmp_path, capsys, good):
    err = _spec_error(tmp_path, capsys, good, "flickr")
    assert "unknown metric 'flickr'" in err and "videojury metrics" in err


def test_S2_unknown_option(tmp_path, capsys, good):
    assert "has no option 'bogus' (its options:" in _spec_error(tmp_path, capsys, good,
                                                                "niqe:bogus=1")


@pytest.mark.parametrize("value", ["abc", "1.5"])
def test_S3_non_integer_frames(tmp_path, capsys, good, value):
    err = _spec_error(tmp_path, capsys, good, f"niqe:frames={value}")
    assert f"option 'frames' of metric 'niqe' must be a int, got '{value}'" in err


@pytest.mark.parametrize("value", ["banana", ""])
def test_S4_bad_pool(tmp_path, capsys, good, value):
    assert "must be one of mean, median, min, max" in _spec_error(tmp_path, capsys, good,
                                                                  f"niqe:pool={value}")


@pytest.mark.parametrize("value", ["0", "-3"])
def test_S5_frames_below_one(tmp_path, capsys, good, value):
    assert "must be >= 1" in _spec_error(tmp_path, capsys, good, f"niqe:frames={value}")


def test_S6_option_without_value(tmp_path, capsys, good):
    assert "not of the form key=value" in _spec_error(tmp_path, capsys, good, "niqe:frames")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_S7_non_finite_float_option(tmp_path, capsys, good, value):
    err = _spec_error(tmp_path, capsys, good, f"frozen:threshold={value}")
    assert f"option 'threshold' of metric 'frozen' must be a finite number, got '{value}'" in err


def test_S7_a_metric_may_allow_non_finite_values():
    from videojury.metrics.base import Metric, ScoreField

    class Open(Metric):
        name = "open_test_metric"
        fields = (ScoreField("v", None, None, True),)
        default_options = {"cap": 1.0}
        nonfinite_options = frozenset({"cap"})

    assert Open(cap="inf").options["cap"] == float("inf")


def test_S8_repeated_option(tmp_path, capsys, good):
    err = _spec_error(tmp_path, capsys, good, "niqe:frames=8,frames=9")
    assert "metric option 'frames' is given twice in 'niqe:frames=8,frames=9'" in err
    with pytest.raises(MetricError, match="given twice"):
        parse_spec("flicker:max_frames=2,max_frames=2")


@pytest.mark.parametrize("spec,message", [
    ("dynamic_degree:short_side=-5",
     "option 'short_side' of metric 'dynamic_degree' must be >= 0, got -5"),
    ("flicker:max_frames=-3", "option 'max_frames' of metric 'flicker' must be >= 0, got -3"),
    ("dynamic_degree:rate=0", "option 'rate' of metric 'dynamic_degree' must be > 0"),
    ("motion_smoothness:preset=slow",
     "option 'preset' of metric 'motion_smoothness' must be one of"),
])
def test_S9_option_ranges_checked_when_the_metric_is_built(tmp_path, capsys, good, spec, message):
    assert message in _spec_error(tmp_path, capsys, good, spec)
    name, opts = parse_spec(spec)
    with pytest.raises(MetricError):
        load_metric(name, **opts)


@pytest.mark.parametrize("spec,message", [
    ("clipscore:device=banana", "option 'device' of metric 'clipscore': 'banana' is not a device"),
    ("clipscore:dtype=fp8", "option 'dtype' of metric 'clipscore': unknown dtype 'fp8'"),
])
def test_S10_device_and_dtype_spelling_checked_at_build(tmp_path, capsys, good, spec, message):
    err = _spec_error(tmp_path, capsys, good, spec)
    assert message in err and "RuntimeError" not in err
    for ok in ("cpu", "cuda:1", "auto", "MPS"):
        assert load_metric(f"clipscore:device={ok}").options["device"] == ok


def test_S13_batch_size_zero_refused_in_spec_and_flag(tmp_path, capsys, good):
    assert "must be >= 1" in _spec_error(tmp_path, capsys, good, "clipscore:batch_size=0")
    code, text, _ = score(tmp_path, capsys, good, metrics=("clipscore",),
                          args=["--batch-size", "0"])
    assert code == 2 and "--batch-size must be at least 1" in text


def test_S14_install_hint_keeps_its_brackets(tmp_path, capsys, good, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    code, text, _ = score(tmp_path, capsys, good, args=["--backend", "ray"])
    assert code == 2 and "pip install 'videojury[ray]'" in text


# ============================================================== models (M9, M10, M16, S12)

@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from videojury.models.tiny import build_tiny

    root = tmp_path_factory.mktemp("tiny")
    return {fam: build_tiny(fam, root / fam) for fam in ("clip", "qwen2_5_vl")}


@pytest.mark.parametrize("case,metric,fam", [("M9", "clipscore", "clip"),
                                             ("M10", "vqascore", "qwen2_5_vl")])
def test_M9_M10_empty_prompt_with_a_prompt_metric(tmp_path, capsys, good, tiny, case, metric, fam):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt\n{good},a cat\n{good},\n")
    err = _manifest_error(tmp_path, capsys, m, metrics=(f"{metric}:model={tiny[fam]}",))
    assert f"metric '{metric}' needs a prompt" in err and "row 2, column 'prompt' is empty" in err


def test_M16_10000_character_prompt_scores(tmp_path, capsys, good, tiny):
    m = tmp_path / "m.csv"
    pd.DataFrame({"video": [str(good)], "prompt": ["a cat " * 1667]}).to_csv(m, index=False)
    code, _, df = score(tmp_path, capsys, m, metrics=(f"clipscore:model={tiny['clip']}",
                                                      f"vqascore:model={tiny['qwen2_5_vl']}"))
    assert code == 0 and not errors(df)


def test_S12_wrong_model_family_names_the_family(tmp_path, capsys, good, tiny):
    m = tmp_path / "m.csv"
    m.write_text(f"video,prompt\n{good},a cat\n")
    code, text, df = score(tmp_path, capsys, m, metrics=(f"clipscore:model={tiny['qwen2_5_vl']}",))
    assert code in (1, 2)  # per-item today; a build-time check would make it exit 2
    msg = errors(df)[0] if df is not None else text
    assert "is a qwen2_5_vl model; this metric needs a CLIP-style embedding model" in msg


# ============================================================== markup elsewhere (L13, H26)

def test_L13_bench_model_named_like_markup(tmp_path, capsys):
    from videojury.bench.synthetic import make_synthetic_bench

    suite_path, videos = make_synthetic_bench(tmp_path / "b", models=[("a", 1), ("b", 2)],
                                              n_prompts=2)
    rows = [{"video": str(f), "model": "[/b]evil" if f.parent.name == "a" else "[bold]good",
             "prompt_id": f.stem} for f in sorted(videos.rglob("*.mp4"))]
    manifest = tmp_path / "m.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    code = main(["bench", str(suite_path), str(manifest), "-m", "flicker", "--no-store",
                 "--out", str(tmp_path / "out"), "--bootstrap", "0"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "[/b]evil" in cap.out and "[bold]good" in cap.out and "Traceback" not in cap.err


def test_H26_correlate_field_named_like_markup(tmp_path, capsys):
    pred = tmp_path / "pred.csv"
    human = tmp_path / "mos.csv"
    vids = [f"v{i}.mp4" for i in range(6)]
    pd.DataFrame({"video": vids, "flicker": np.linspace(0.1, 0.9, 6)}).to_csv(pred, index=False)
    pd.DataFrame({"video": vids, "mos": np.linspace(1, 5, 6)}).to_csv(human, index=False)
    code = main(["correlate", str(pred), "--human", str(human), "--field", "[/x]"])
    cap = capsys.readouterr()
    assert code == 2 and "Traceback" not in cap.err
    assert "predictions have no column(s) '[/x]'; score columns found: 'flicker'" in cap.err
