"""VBench's evaluation protocol in ``videojury bench``.

VBench (Huang et al., CVPR 2024) evaluates each of its 16 dimensions only on
the prompts that ``VBench_full_info.json`` lists under that dimension, on the
videos ``<prompt>-<k>.mp4`` sampled from them, and writes one
``<name>_eval_results.json`` per model::

    {dimension: [mean, [{"video_path": ..., "video_results": ...}, ...]], ...}

:func:`run_vbench` does the same with videojury's metrics: each requested
dimension is computed on its own prompts' videos only (a video whose prompt
is in several requested dimensions is decoded once for all of them), the
results go to ``OUT/vbench/<model>_eval_results.json`` in VBench's format,
and the leaderboard gets one column per dimension plus VBench's normalised
Quality, Semantic and Total scores (``scripts/cal_final_score.py``: each
dimension mapped by VBench's fixed ``(Min, Max)``, weighted, Quality and
Semantic as weighted means, Total = (4 Quality + 1 Semantic) / 5) whenever
every dimension they need is present. Published ``*_eval_results.json``
files (``--vbench-results``) are read into the same table.

Custom input (VBench's ``--mode custom_input``): when the suite's prompts
carry no VBench dimension (a plain prompt list, a user's own suite), every
requested dimension is computed on every video; the dimensions that need
VBench's per-prompt auxiliary information (``appearance_style``, and the
GRiT/Tag2Text ones) are refused then, as VBench refuses them.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..analysis.leaderboard import rank_table
from ..api import resolve_metrics, score
from ..errors import InputError
from ..metrics.base import ResultField, list_metrics
from ..run.store import Store
from .layout import BenchCheck
from .runner import BenchResult, _merge_stats, _video_rows

# VBench's 16 dimensions, in the order of its scripts/constant.py (TASK_INFO).
DIMENSIONS: tuple[str, ...] = (
    "subject_consistency", "background_consistency", "temporal_flickering",
    "motion_smoothness", "dynamic_degree", "aesthetic_quality", "imaging_quality",
    "object_class", "multiple_objects", "human_action", "color", "spatial_relationship",
    "scene", "appearance_style", "temporal_style", "overall_consistency",
)

# VBench's scripts/constant.py: QUALITY_LIST, SEMANTIC_LIST, DIM_WEIGHT, NORMALIZE_DIC,
# QUALITY_WEIGHT, SEMANTIC_WEIGHT (keys with '_' where VBench writes a space).
QUALITY_LIST: tuple[str, ...] = (
    "subject_consistency", "background_consistency", "temporal_flickering",
    "motion_smoothness", "aesthetic_quality", "imaging_quality", "dynamic_degree",
)
SEMANTIC_LIST: tuple[str, ...] = (
    "object_class", "multiple_objects", "human_action", "color", "spatial_relationship",
    "scene", "appearance_style", "temporal_style", "overall_consistency",
)
DIM_WEIGHT: dict[str, float] = {d: 1.0 for d in DIMENSIONS}
DIM_WEIGHT["dynamic_degree"] = 0.5
NORMALIZE: dict[str, tuple[float, float]] = {d: (0.0, 1.0) for d in DIMENSIONS}
NORMALIZE.update({
    "subject_consistency": (0.1462, 1.0),
    "background_consistency": (0.2615, 1.0),
    "temporal_flickering": (0.6293, 1.0),
    "motion_smoothness": (0.706, 0.9975),
    "scene": (0.0, 0.8222),
    "appearance_style": (0.0009, 0.2855),
    "temporal_style": (0.0, 0.364),
    "overall_consistency": (0.0, 0.364),
})
QUALITY_WEIGHT = 4.0
SEMANTIC_WEIGHT = 1.0

# The videojury metric (spec) and field that computes each dimension as VBench does.
METRICS: dict[str, tuple[str, str]] = {
    "subject_consistency": ("subject_consistency", "subject_consistency"),
    "background_consistency": ("background_consistency", "background_consistency"),
    "temporal_flickering": ("flicker", "flicker"),
    "motion_smoothness": ("motion_smoothness:method=amt", "motion_smoothness"),
    "dynamic_degree": ("dynamic_degree:method=raft", "is_dynamic"),
    "aesthetic_quality": ("aesthetic_quality", "aesthetic_quality"),
    "imaging_quality": ("imaging_quality", "imaging_quality"),
    "appearance_style": ("appearance_style", "appearance_style"),
    "temporal_style": ("temporal_style", "temporal_style"),
    "overall_consistency": ("overall_consistency", "overall_consistency"),
}
# Dimensions whose VBench model videojury does not have yet.
NOT_AVAILABLE: dict[str, str] = {
    "object_class": "GRiT", "multiple_objects": "GRiT", "color": "GRiT",
    "spatial_relationship": "GRiT", "scene": "Tag2Text", "human_action": "UMT",
}
# Dimensions that read VBench's per-prompt auxiliary_info (not in custom-input mode).
NEEDS_AUX = frozenset({"appearance_style", "object_class", "multiple_objects", "color",
                       "spatial_relationship", "scene"})
# Per-video values VBench writes as JSON booleans.
BOOLEAN = frozenset({"dynamic_degree"})
# Per-video values VBench writes on another scale than its mean: imaging_quality's are
# MUSIQ's 0-100 scores, its mean is divided by 100 (vbench/imaging_quality.py).
PER_VIDEO_SCALE: dict[str, float] = {"imaging_quality": 100.0}

QUALITY, SEMANTIC, TOTAL = "vbench_quality", "vbench_semantic", "vbench_total"


def available_dimensions() -> list[str]:
    """The VBench dimensions whose metric is registered in this install, in VBench's order."""
    from ..errors import MetricError
    from ..metrics.base import load_metric

    have = set(list_metrics())
    out = []
    for d in DIMENSIONS:
        if d not in METRICS or METRICS[d][0].split(":")[0] not in have:
            continue
        try:  # the metric exists, but does it take VBench's options (method=raft, ...)?
            load_metric(METRICS[d][0])
        except (InputError, MetricError):
            continue
        out.append(d)
    return out


def _unavailable_reason(dim: str) -> str:
    if dim in NOT_AVAILABLE:
        return (f"VBench dimension {dim!r} is not available in videojury yet (VBench computes it "
                f"with {NOT_AVAILABLE[dim]})")
    return (f"VBench dimension {dim!r} needs metric {METRICS[dim][0]!r}, which this install "
            "does not have yet")


def select_dimensions(check: BenchCheck, requested: Sequence[str] | None
                      ) -> tuple[list[str], bool, list[str]]:
    """(dimensions to compute, custom-input mode?, notes) for a suite and ``--dimension``s.

    Raises :class:`InputError` naming the option for an unknown, unavailable or
    (in the standard mode) absent dimension."""
    suite_dims = [d for d in check.suite.dimensions if d in DIMENSIONS]
    custom = not suite_dims
    avail = available_dimensions()
    notes: list[str] = []
    if requested:
        dims = list(dict.fromkeys(requested))
        for d in dims:
            if d not in DIMENSIONS:
                raise InputError(f"--dimension {d!r}: not a VBench dimension; choose from "
                                 f"{', '.join(DIMENSIONS)}")
            if d not in avail:
                raise InputError(f"--dimension {d}: {_unavailable_reason(d)}")
            if custom and d in NEEDS_AUX:
                raise InputError(f"--dimension {d}: VBench computes it only on its own prompts "
                                 "(it reads their auxiliary_info); with a custom suite it is not "
                                 "available. Use VBench_full_info.json")
            if not custom and d not in suite_dims:
                raise InputError(f"--dimension {d}: no prompt of suite {check.suite.name!r} is "
                                 f"in this dimension (its dimensions: {', '.join(suite_dims)})")
    else:
        pool = [d for d in DIMENSIONS if d in suite_dims] if not custom else \
            [d for d in DIMENSIONS if d not in NEEDS_AUX]
        dims = [d for d in pool if d in avail]
        skipped = [d for d in pool if d not in avail]
        if skipped:
            notes.append("VBench dimension(s) not computed: " + "; ".join(
                _unavailable_reason(d) for d in skipped))
        if not dims:
            raise InputError("none of the suite's VBench dimensions is available: "
                             + "; ".join(_unavailable_reason(d) for d in skipped))
    return dims, custom, notes


# --- normalised scores ---------------------------------------------------------------


def vbench_scores(means: dict[str, float]) -> dict[str, float]:
    """VBench's Quality, Semantic and Total scores (``scripts/cal_final_score.py``).

    ``means`` maps dimensions to their raw means. Each dimension is mapped with
    ``(v - Min) / (Max - Min)`` and multiplied by its weight; Quality is the sum over
    ``QUALITY_LIST`` divided by the sum of its weights, Semantic likewise, Total
    ``(4 Quality + 1 Semantic) / 5``. A score is given only when all of its dimensions
    are present (VBench's script counts a missing one as 0; we leave the score out)."""
    def part(names: Sequence[str]) -> float | None:
        if not all(n in means and _finite(means[n]) for n in names):
            return None
        total = sum((float(means[n]) - NORMALIZE[n][0]) / (NORMALIZE[n][1] - NORMALIZE[n][0])
                    * DIM_WEIGHT[n] for n in names)
        return total / sum(DIM_WEIGHT[n] for n in names)

    out: dict[str, float] = {}
    q, s = part(QUALITY_LIST), part(SEMANTIC_LIST)
    if q is not None:
        out[QUALITY] = q
    if s is not None:
        out[SEMANTIC] = s
    if q is not None and s is not None:
        out[TOTAL] = (q * QUALITY_WEIGHT + s * SEMANTIC_WEIGHT) / (QUALITY_WEIGHT
                                                                   + SEMANTIC_WEIGHT)
    return out


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


# --- VBench's result files -------------------------------------------------------------


def read_eval_results(path: str | os.PathLike) -> dict[str, tuple[float, int]]:
    """``{dimension: (mean, number of videos)}`` from a VBench ``*_eval_results.json``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--vbench-results {p}: file does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"--vbench-results {p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"--vbench-results {p}: expected VBench's eval_results object "
                         "{dimension: [mean, [per-video results]]}")
    out: dict[str, tuple[float, int]] = {}
    for dim, val in data.items():
        if dim not in DIMENSIONS:
            raise InputError(f"--vbench-results {p}: {dim!r} is not a VBench dimension")
        if isinstance(val, (list, tuple)) and val and _finite(val[0]):
            n = len(val[1]) if len(val) > 1 and isinstance(val[1], list) else 0
            out[dim] = (float(val[0]), n)
        elif _finite(val) and not isinstance(val, bool):
            out[dim] = (float(val), 0)
        else:
            raise InputError(f"--vbench-results {p}, dimension {dim!r}: expected [mean, "
                             "[per-video results]] with a numeric mean")
    return out


def result_files(paths: Sequence[str | os.PathLike]) -> list[tuple[str, Path]]:
    """``(model, file)`` for each ``--vbench-results`` path (a file or a folder of them);
    the model is the file name before ``_eval_results.json``."""
    out: list[tuple[str, Path]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = sorted(p.glob("*_eval_results.json"))
            if not files:
                raise InputError(f"--vbench-results {p}: no *_eval_results.json file in this "
                                 "folder")
        elif p.is_file():
            files = [p]
        else:
            raise InputError(f"--vbench-results {p}: no such file or folder")
        for f in files:
            name = f.name[: -len("_eval_results.json")] if f.name.endswith(
                "_eval_results.json") else f.stem
            out.append((name or f.stem, f))
    return out


# --- the run ------------------------------------------------------------------------


@dataclass
class VBenchResult(BenchResult):
    """A :class:`BenchResult` of VBench's protocol, with the per-model eval_results."""

    eval_results: dict[str, dict[str, list]] = field(default_factory=dict)
    dimensions_run: list[str] = field(default_factory=list)
    published: dict[str, str] = field(default_factory=dict)  # model -> file read

    def write(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """:meth:`BenchResult.write`, plus ``vbench/<model>_eval_results.json`` per model
        scored in this run (VBench's format) and ``vbench/scores.json`` (per model: the
        dimension means and the normalised scores)."""
        paths = super().write(out_dir)
        vdir = Path(out_dir) / "vbench"
        vdir.mkdir(parents=True, exist_ok=True)
        for model, res in self.eval_results.items():
            p = vdir / f"{_safe_name(model)}_eval_results.json"
            p.write_text(json.dumps(res, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
            paths[f"vbench:{model}"] = p
        cols = [c for c in (*DIMENSIONS, QUALITY, SEMANTIC, TOTAL) if c in self.per_model]
        summary = {str(r["model"]): {c: (None if not _finite(r[c]) else float(r[c]))
                                     for c in cols}
                   for r in self.per_model.to_dict("records")}
        p = vdir / "scores.json"
        p.write_text(json.dumps({"dimensions": self.dimensions_run, "published": self.published,
                                 "models": summary}, indent=2, ensure_ascii=False) + "\n",
                     encoding="utf-8")
        paths["vbench_scores"] = p
        return paths


def _safe_name(model: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in model) or "model"


def _dimension_field(dim: str, metric_label: str) -> ResultField:
    lo, hi = NORMALIZE[dim]
    return ResultField(dim, metric_label, True, 0.0, 1.0,
                       f"VBench {dim} (VBench's normalisation range {lo}-{hi})", field=dim)


def _score_fields() -> list[ResultField]:
    return [ResultField(QUALITY, "vbench", True, None, None,
                        "VBench Quality score (normalised, weighted mean of its 7 dimensions)",
                        field=QUALITY),
            ResultField(SEMANTIC, "vbench", True, None, None,
                        "VBench Semantic score (normalised, weighted mean of its 9 dimensions)",
                        field=SEMANTIC),
            ResultField(TOTAL, "vbench", True, None, None,
                        "VBench Total score: (4 Quality + 1 Semantic) / 5", field=TOTAL)]


def run_vbench(check: BenchCheck, dimensions: Sequence[str] | None = None,
               store: str | os.PathLike | Store | None = None, *,
               published: Sequence[str | os.PathLike] = (), retry_errors: bool = False,
               on_plan: Callable[[int, int], None] | None = None,
               progress: Callable[[int], None] | None = None,
               batch_size: int | None = None) -> VBenchResult:
    """Evaluate the videos of ``check`` with VBench's protocol; see the module docstring."""
    from ..run.executor import RunStats  # noqa: F401  (type of stats)
    from .runner import pending_count

    dims, custom, notes = select_dimensions(check, dimensions)
    pub = result_files(published)
    pub_data = [(m, f, read_eval_results(f)) for m, f in pub]  # checked before scoring
    specs = {d: METRICS[d] for d in dims}
    metric_objs = resolve_metrics(list(dict.fromkeys(s for s, _ in specs.values())), batch_size)
    by_spec = dict(zip(dict.fromkeys(s for s, _ in specs.values()), metric_objs))
    if not dimensions:
        # The default set leaves out the dimensions whose weights are not on this machine
        # (saying which, and how to fetch them), and so those whose model needs an extra
        # that is not installed (torch on the core install); an asked-for one fails loudly.
        from ..errors import MetricError, MissingExtraError

        for spec, m in list(by_spec.items()):
            try:
                m.identity(lambda path: "")
            except (MetricError, MissingExtraError) as exc:
                gone = [d for d in dims if specs[d][0] == spec]
                notes.append(f"VBench dimension(s) {', '.join(gone)} not computed: {exc}")
                dims = [d for d in dims if d not in gone]
                del by_spec[spec]
        if not dims:
            raise InputError("no VBench dimension can run: " + "; ".join(notes))
        specs = {d: METRICS[d] for d in dims}
        metric_objs = list(by_spec.values())
    for d, (spec, fname) in specs.items():
        if fname not in [f.name for f in by_spec[spec].fields]:
            raise InputError(f"metric {spec} has no field {fname!r} for VBench dimension {d}")

    videos = _video_rows(check)
    suite = check.suite
    order = {pid: i for i, pid in enumerate(suite.ids)}
    videos["_order"] = [order[p] for p in videos["prompt_id"]]
    videos["_k"] = [(-1 if s is None or (isinstance(s, float) and math.isnan(s)) else int(s))
                    for s in videos["sample"]]
    videos = videos.sort_values(["_order", "_k", "rel"], kind="mergesort").reset_index(drop=True)
    videos = videos.drop(columns=["_order", "_k"])
    row_dims = []
    for pid, rel in zip(videos["prompt_id"], videos["rel"]):
        have = set(suite[pid].dimensions)
        ds = tuple(d for d in dims if custom or d in have)
        # VBench's sampled-video folders: <model>/<dimension>/<prompt>-<k>.mp4 holds the
        # videos of that dimension only (a prompt in two dimensions has a copy in each).
        folder = Path(str(rel)).parent.name
        if folder in DIMENSIONS:
            ds = tuple(d for d in ds if d == folder)
        row_dims.append(ds)
    videos["_dims"] = row_dims
    videos = videos[[bool(x) for x in row_dims]].reset_index(drop=True)
    if not len(videos):
        raise InputError(f"no video of {check.videos.source} belongs to a prompt of the "
                         f"requested dimension(s) {', '.join(dims)}")
    # The style text appearance_style reads, from the prompt's auxiliary_info.
    videos["auxiliary_info"] = [
        json.dumps(suite[p].extra.get("auxiliary_info"), ensure_ascii=False, sort_keys=True)
        if suite[p].extra.get("auxiliary_info") else None for p in videos["prompt_id"]]

    own = not isinstance(store, Store)
    st = Store(store) if own else store  # type: ignore[arg-type]
    values = {d: np.full(len(videos), np.nan) for d in dims}
    errors: list[str | None] = [None] * len(videos)
    stats = None
    try:
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, ds in enumerate(videos["_dims"]):
            groups.setdefault(ds, []).append(i)
        plans = []
        total = pending = 0
        for ds, idx in groups.items():
            rows = videos.iloc[idx].drop(columns=["_dims"])
            key = ["video", "prompt_id"]
            u_rows = rows.drop_duplicates(key).reset_index(drop=True)
            ms = [by_spec[s] for s in dict.fromkeys(specs[d][0] for d in ds)]
            t, p = pending_count(u_rows, ms, st)
            total, pending = total + t, pending + p
            plans.append((ds, idx, rows, u_rows, ms))
        if on_plan is not None:
            on_plan(total, pending)
        from ..run.results import field_columns

        for ds, idx, rows, u_rows, ms in plans:
            scored, s = score(u_rows, metrics=ms, store=st, retry_errors=retry_errors,
                              progress=progress, return_stats=True)
            stats = _merge_stats(stats, s)
            cols = {(ms[m_i].label, f.name): col for m_i, f, col in field_columns(ms)}
            pos = {k: j for j, k in enumerate(zip(u_rows["video"], u_rows["prompt_id"]))}
            for i, (v, pid) in zip(idx, zip(rows["video"], rows["prompt_id"])):
                j = pos[(v, pid)]
                for d in ds:
                    spec, fname = specs[d]
                    values[d][i] = float(scored[cols[(by_spec[spec].label, fname)]].iloc[j])
                err = scored["error"].iloc[j]
                errors[i] = None if err is None or (isinstance(err, float) and
                                                    math.isnan(err)) else str(err)
    finally:
        if own:
            st.close()

    scores = videos.drop(columns=["_dims", "auxiliary_info"]).copy()
    scores["vbench_dimensions"] = ["|".join(ds) for ds in videos["_dims"]]
    for d in dims:
        scores[d] = values[d]
    scores["error"] = errors
    root = check.videos.source
    eval_results: dict[str, dict[str, list]] = {}
    for model in check.models:
        res: dict[str, list] = {}
        sub = scores[scores["model"] == model]
        for d in dims:
            vals = sub[d].to_numpy(dtype=float)
            ok = np.isfinite(vals)
            if not ok.any():
                continue
            per_video = []
            for rel, v in zip(sub["rel"][ok], vals[ok]):
                path = os.path.join(root, str(rel)) if check.videos.kind == "folder" else str(rel)
                per_video.append({"video_path": path,
                                  "video_results": bool(v >= 0.5) if d in BOOLEAN
                                  else float(v) * PER_VIDEO_SCALE.get(d, 1.0)})
            res[d] = [float(np.mean(vals[ok])), per_video]
        if res:
            eval_results[model] = res

    fields = [_dimension_field(d, by_spec[specs[d][0]].label) for d in dims]
    rows = []
    for model in check.models:
        sub = scores[scores["model"] == model]
        rec: dict[str, Any] = {"model": model, "n_videos": int(len(sub)),
                               "n_failed": int(sub["error"].notna().sum()), "source": "run"}
        for d in dims:
            rec[d] = eval_results.get(model, {}).get(d, [np.nan])[0]
        rec.update(vbench_scores({d: rec[d] for d in dims}))
        rows.append(rec)
    published_models: dict[str, str] = {}
    for model, f, data in pub_data:
        if model in {r["model"] for r in rows}:
            raise InputError(f"--vbench-results {f}: model {model!r} is also scored in this run; "
                             "rename the file (<model>_eval_results.json) to tell them apart")
        rec = {"model": model, "n_videos": max([n for _, n in data.values()] or [0]),
               "n_failed": 0, "source": str(f)}
        for d in DIMENSIONS:
            if d in data:
                rec[d] = data[d][0]
        rec.update(vbench_scores({d: v for d, (v, _) in data.items()}))
        rows.append(rec)
        published_models[model] = str(f)
    per_model = pd.DataFrame(rows)
    extra_dims = [d for d in DIMENSIONS if d in per_model.columns and d not in dims]
    fields += [_dimension_field(d, "published") for d in extra_dims]
    totals = [f for f in _score_fields() if f.column in per_model.columns]
    all_fields = fields + totals
    cols = ["model", "n_videos", "n_failed", "source"] + [f.column for f in all_fields]
    per_model = per_model.reindex(columns=cols)
    long = []
    for rec in per_model.to_dict("records"):
        for f in fields:
            if _finite(rec.get(f.column)):
                n = len(eval_results.get(rec["model"], {}).get(f.column, [0, []])[1])
                long.append({"model": rec["model"], "dimension": f.column, "field": f.column,
                             "value": float(rec[f.column]), "n": n})
    per_dim = pd.DataFrame(long, columns=["model", "dimension", "field", "value", "n"])
    ordered = [f for c in (TOTAL, QUALITY, SEMANTIC) for f in totals if f.column == c]
    rank_specs = [f for f in (*ordered, *fields) if per_model[f.column].notna().any()]
    if not rank_specs:
        raise InputError("no VBench dimension produced a value for any video; see the 'error' "
                         "column of the scores")
    # VBench's leaderboard ranks by Total; without it by Quality; else by the rank sum
    # over the dimensions. The other columns are shown next to the ranked one.
    key = [f for f in rank_specs if f.column in (TOTAL, QUALITY)][:1] or rank_specs
    board = rank_table(per_model, "model", key)
    for f in rank_specs:
        if f.column not in board.columns:
            board[f.column] = board["model"].map(dict(zip(per_model["model"],
                                                          per_model[f.column])))
    board.attrs["shown"] = [f.column for f in rank_specs]
    problems = check.problems() + notes
    failed = [(r, e) for r, e in zip(scores["rel"], scores["error"]) if e]
    if failed:
        problems.append(f"{len(failed)} video(s) failed and are left out of their dimensions' "
                        f"means (VBench skips them too): " + "; ".join(
                            f"{r}: {e}" for r, e in failed[:5]))
    summary = (f"VBench protocol ({'custom input' if custom else 'standard'}): "
               f"{len(dims)} dimension(s) ({', '.join(dims)}) on {len(scores)} video(s) of "
               f"{len(check.models)} model(s)"
               + (f"; {len(published_models)} published result file(s)" if published_models
                  else ""))
    return VBenchResult(suite, all_fields, scores, per_model, per_dim, board, None, None,
                        [m.label for m in metric_objs], problems, summary, stats, None,
                        check.videos.source, eval_results=eval_results, dimensions_run=dims,
                        published=published_models)


__all__ = [
    "DIMENSIONS", "DIM_WEIGHT", "METRICS", "NORMALIZE", "NOT_AVAILABLE", "QUALITY_LIST",
    "SEMANTIC_LIST", "VBenchResult", "available_dimensions", "read_eval_results",
    "result_files", "run_vbench", "select_dimensions", "vbench_scores",
]
