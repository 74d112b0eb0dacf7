"""``videojury study create``: stimuli, raters and their schedules into a study folder."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import secrets
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import InputError
from .design import deal_balanced, pair_design, rater_schedule
from .store import DB_NAME, connect, db_path

__all__ = ["PROTOCOLS", "create_study", "needs_prompt", "ACR_LABELS"]

PROTOCOLS = ("acr", "pairwise")
# ITU-R BT.500 / P.910 absolute category rating labels.
ACR_LABELS = {5: "Excellent", 4: "Good", 3: "Fair", 2: "Poor", 1: "Bad"}
PAIR_CHOICES = ("a", "b", "tie")
_PROMPT_WORDS = ("correspond", "align", "consisten", "prompt", "text", "semantic", "faithful", "relevan")
_DIM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,39}$")
PLAYABLE = (".mp4", ".webm", ".m4v", ".ogv", ".mov")


def needs_prompt(dimension: str) -> bool:
    """Whether a dimension judges the video against its prompt (then the prompt is shown)."""
    low = dimension.lower()
    return any(w in low for w in _PROMPT_WORDS)


def _golden_values(extra: dict, dimensions: list[str], where: str, protocol: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for dim in dimensions:
        for col in (f"golden_{dim}", "golden"):
            if col not in extra:
                continue
            raw = extra[col]
            if raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == "":
                continue
            try:
                val = float(raw)
            except (TypeError, ValueError):
                raise InputError(f"{where}, column {col!r}: not a number: {raw!r}") from None
            if not math.isfinite(val):
                raise InputError(f"{where}, column {col!r}: not finite: {raw!r}")
            if protocol == "acr" and not 1 <= val <= 5:
                raise InputError(f"{where}, column {col!r}: a golden ACR answer is 1-5, got {raw!r}")
            out[dim] = val
            break
    return out


def create_study(
    folder: str | Path,
    manifest: str | Path,
    *,
    protocol: str,
    dimensions: list[str],
    raters: int,
    golden: int = 0,
    repeats: int = 0,
    seed: int = 0,
    items_per_rater: int | None = None,
    pairs_per_video: int | None = None,
    min_view: float = 0.0,
    show_prompt: bool = False,
    golden_tolerance: float = 1.0,
    title: str | None = None,
) -> dict:
    """Make a study folder: database, ``raters.csv`` (rater, token) and the admin token.

    Manifest rows with a ``golden`` (or ``golden_<dimension>``) value are
    golden stimuli: never rated as regular items, shown ``golden`` times per
    rater with the known answer (ACR: the score, right within
    ``golden_tolerance``; pairwise: the video with the higher value wins).
    Returns a summary dict (counts, paths).
    """
    from ..data.items import items_from_table, read_table

    folder = Path(folder)
    if protocol not in PROTOCOLS:
        raise InputError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    dimensions = list(dimensions) or ["overall"]
    for d in dimensions:
        if not _DIM_NAME.match(d):
            raise InputError(f"--dimension {d!r}: use a short name of letters, digits, '_' or '-' "
                             "starting with a letter")
    if len(set(dimensions)) != len(dimensions):
        raise InputError(f"--dimension: a name is given twice ({', '.join(dimensions)})")
    if raters < 1:
        raise InputError(f"--raters must be at least 1, got {raters}")
    for name, v in (("--golden", golden), ("--repeats", repeats)):
        if v < 0:
            raise InputError(f"{name} must be >= 0, got {v}")
    if items_per_rater is not None and items_per_rater < 1:
        raise InputError(f"--items-per-rater must be at least 1, got {items_per_rater}")
    if pairs_per_video is not None and pairs_per_video < 1:
        raise InputError(f"--pairs-per-video must be at least 1, got {pairs_per_video}")
    if not (golden_tolerance >= 0 and math.isfinite(golden_tolerance)):
        raise InputError(f"--golden-tolerance must be a number of grades >= 0, got {golden_tolerance}")
    if not (min_view >= 0 and math.isfinite(min_view)):
        raise InputError(f"--min-view must be a number of seconds >= 0, got {min_view}")
    if db_path(folder).exists():
        raise InputError(f"{folder}: already holds a study ({DB_NAME}); pick a new folder "
                         "(a study's schedule and tokens are fixed once raters have them)")

    mpath = Path(manifest)
    df = read_table(mpath)
    items = items_from_table(df, str(mpath), mpath.resolve().parent)
    labels = [str(v).strip() for v in df["video"].tolist()]
    seen: dict[str, int] = {}
    videos = []
    for i, (it, label) in enumerate(zip(items, labels)):
        where = f"{mpath} row {i + 1}"
        if label in seen:
            raise InputError(f"{where}: video {label!r} is already in row {seen[label]}; "
                             "a study shows each video once per item")
        seen[label] = i + 1
        p = Path(it.video)
        if not p.is_file():
            raise InputError(f"{where}, column 'video': file not found: {p}")
        if p.suffix.lower() not in PLAYABLE:
            raise InputError(f"{where}, column 'video': {p.name} is not a format browsers play "
                             f"({', '.join(PLAYABLE)}); convert it (H.264 mp4 or VP9 webm)")
        gold = _golden_values(it.extra, dimensions, where, protocol)
        shows_prompt = show_prompt or any(needs_prompt(d) for d in dimensions)
        if shows_prompt and not it.prompt:
            need = [d for d in dimensions if needs_prompt(d)]
            why = f"dimension {need[0]!r} is judged against the prompt" if need else "--show-prompt is set"
            raise InputError(f"{where}, column 'prompt': empty, but {why}")
        videos.append({"id": i + 1, "label": label, "path": str(p.resolve()), "prompt": it.prompt,
                       "prompt_id": it.prompt_id, "model": it.model, "golden": gold})

    regular_v = [v for v in videos if not v["golden"]]
    golden_v = [v for v in videos if v["golden"]]
    if protocol == "acr":
        regular = [(v["id"],) for v in regular_v]
        gold_items = [(v["id"],) for v in golden_v]
    else:
        key = "prompt_id" if all(v["prompt_id"] for v in videos) else "prompt"
        if not all(v[key] for v in videos):
            raise InputError(f"{mpath}: a pairwise study pairs videos of the same prompt; give every row a "
                             "'prompt_id' or a 'prompt'")
        rng = np.random.default_rng([seed, 0xA1B2])
        regular, gold_items = [], []
        groups: dict[str, list[int]] = defaultdict(list)
        for v in regular_v:
            groups[v[key]].append(v["id"])
        for g in sorted(groups):
            regular.extend(pair_design(groups[g], pairs_per_video, rng))
        ggroups: dict[str, list[dict]] = defaultdict(list)
        for v in golden_v:
            ggroups[v[key]].append(v)
        for g in sorted(ggroups):
            vs = ggroups[g]
            for x in range(len(vs)):
                for y in range(x + 1, len(vs)):
                    a, b = vs[x]["golden"], vs[y]["golden"]
                    if any(d in b and a[d] != b[d] for d in a):
                        gold_items.append((vs[x]["id"], vs[y]["id"]))
    if not regular:
        what = "videos without a golden value" if protocol == "acr" else \
            "pairs: no prompt has two or more videos without a golden value"
        raise InputError(f"{mpath}: nothing to rate ({what})")
    if golden and not gold_items:
        hint = ("rows with a 'golden' (or 'golden_<dimension>') score 1-5" if protocol == "acr" else
                "two or more videos of one prompt with different 'golden' values")
        raise InputError(f"--golden {golden}: the manifest has no golden items; add {hint}")
    if items_per_rater is not None and items_per_rater > len(regular):
        raise InputError(f"--items-per-rater {items_per_rater} is more than the {len(regular)} items of the study")

    width = max(2, len(str(raters)))
    names = [f"r{k + 1:0{width}d}" for k in range(raters)]
    deal = deal_balanced(len(regular), raters, items_per_rater, seed)
    schedules = [rater_schedule([regular[k] for k in deal[r]], gold_items, protocol=protocol, rater_index=r,
                                seed=seed, n_golden=golden, n_repeats=repeats) for r in range(raters)]

    config = {
        "protocol": protocol, "dimensions": dimensions, "raters": raters, "golden": golden,
        "repeats": repeats, "seed": seed, "items_per_rater": items_per_rater,
        "pairs_per_video": pairs_per_video, "min_view": float(min_view),
        "prompt_dimensions": [d for d in dimensions if needs_prompt(d)],
        "show_prompt": bool(show_prompt or any(needs_prompt(d) for d in dimensions)),
        "golden_tolerance": float(golden_tolerance), "title": title or f"Video {protocol.upper()} study",
        "manifest": str(mpath.resolve()), "n_videos": len(videos), "n_regular_items": len(regular),
        "n_golden_items": len(gold_items), "created_at": time.time(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    tokens = {n: secrets.token_urlsafe(18) for n in names}
    admin_token = secrets.token_urlsafe(24)
    con = connect(folder, create=True)
    try:
        con.execute("BEGIN")
        con.execute("INSERT INTO meta VALUES ('config', ?)", (json.dumps(config),))
        con.execute("INSERT INTO meta VALUES ('admin_token', ?)", (admin_token,))
        con.execute("INSERT INTO meta VALUES ('secret', ?)", (secrets.token_hex(32),))
        con.executemany("INSERT INTO videos VALUES (?,?,?,?,?,?,?)",
                        [(v["id"], v["label"], v["path"], v["prompt"], v["prompt_id"], v["model"],
                          json.dumps(v["golden"]) if v["golden"] else None) for v in videos])
        con.executemany("INSERT INTO raters VALUES (?,?,?,NULL)",
                        [(n, tokens[n], k) for k, n in enumerate(names)])
        con.executemany("INSERT INTO items VALUES (?,?,?,?,?,?)",
                        [(n, s, it["kind"], it["a"], it["b"], it["repeat_of"])
                         for n, sched in zip(names, schedules) for s, it in enumerate(sched)])
        con.execute("COMMIT")
    except BaseException:
        con.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_path(folder)) + suffix).unlink(missing_ok=True)
        raise
    con.close()
    _private_write(folder / "raters.csv", [["rater", "token"]] + [[n, tokens[n]] for n in names])
    _private_text(folder / "admin_token.txt", admin_token + "\n")
    (folder / "study.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return {"folder": str(folder), "raters": raters, "items_per_rater": [len(s) for s in schedules],
            "regular_items": len(regular), "golden_items": len(gold_items), "videos": len(videos)}


def _private_text(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def _private_write(path: Path, rows: list[list[str]]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
