"""Running a benchmark: score every model's videos, aggregate, rank, save.

:func:`run_bench` takes a :class:`~videojury.bench.layout.BenchCheck` (the
videos already matched to the suite), scores them through
:func:`videojury.score` with one results store (so a rerun computes only
what is missing, and a killed run keeps every finished result), and returns
a :class:`BenchResult`: per-video scores, per-model means, per-dimension
means, task accuracy, the leaderboard and the bootstrap rank intervals.
:meth:`BenchResult.write` saves it all to a folder that :func:`load_result`
(and ``videojury report``) can read back.

Task accuracy is the share of a model's questions answered as the suite
expects. The answers are the human ones when the videos manifest has
``question`` and ``answer`` columns; otherwise a QA-capable metric's (one
that reads the question) answers, read from its answer field (``qa_yes``,
else the yes-probability ``p_yes``; ``yes`` when it is >= 0.5).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .._version import __version__
from ..analysis.leaderboard import bootstrap_ranks, rank_table, to_csv, to_json
from ..api import resolve_metrics, score
from ..data.items import load_items
from ..data.suites import Suite, load_suite
from ..text import normalize_yes_no
from ..errors import InputError, MetricError
from ..io import write_table
from ..metrics.base import Metric
from ..run.executor import RunStats, plan_job
from ..run.store import Store
from .aggregate import (
    ACCURACY,
    FieldInfo,
    accuracy_by_dimension,
    accuracy_field,
    dimension_means,
    fields_of,
    judge_answers,
    model_means,
    per_prompt,
    task_accuracy,
)
from .layout import BenchCheck

# Fields read as the answer, best first: a 0/1 answer ("qa_yes"), then the yes/(yes+no)
# probability, then the raw yes-probability.
_ANSWER_FIELDS = ("qa_yes", "yes", "answer_yes", "is_yes")
_PROB_FIELDS = ("p_yes_norm", "p_yes", "prob_yes", "yes_prob", "yes_probability")


def qa_field_of(metric: Metric, name: str | None = None) -> str:
    """The field of a QA metric read as its answer (yes when >= 0.5).

    A 0/1 answer field (``qa_yes``) is preferred, then a renormalised
    yes-probability (``*p_yes_norm``), then a raw one (``*p_yes``); else the
    only field named with "yes", else the only field in [0, 1].
    """
    names = [f.name for f in metric.fields]
    if name is not None:
        if name not in names:
            raise MetricError(f"metric {metric.label} has no field {name!r} (its fields: "
                              f"{', '.join(names)})")
        return name
    for group in (_ANSWER_FIELDS, _PROB_FIELDS):
        for cand in group:
            hits = [n for n in names if (n == cand or n.endswith("_" + cand)) and not (
                group is _ANSWER_FIELDS and "p_yes" in n)]
            if len(hits) == 1:
                return hits[0]
    yes_like = [n for n in names if "yes" in n.lower()]
    if len(yes_like) == 1:
        return yes_like[0]
    unit = [f.name for f in metric.fields if f.low == 0.0 and f.high == 1.0]
    if len(unit) == 1:
        return unit[0]
    raise MetricError(f"cannot tell which field of QA metric {metric.label} is its yes-"
                      f"probability (fields: {', '.join(names)}); pass --qa-field")


@dataclass
class BenchResult:
    """Everything a benchmark produced; see :meth:`write` for the files."""

    suite: Suite
    fields: list[FieldInfo]
    scores: pd.DataFrame
    per_model: pd.DataFrame
    per_dimension: pd.DataFrame
    leaderboard: pd.DataFrame
    qa: pd.DataFrame | None = None
    intervals: pd.DataFrame | None = None
    metrics: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    summary: str = ""
    stats: RunStats | None = None
    accuracy_source: str | None = None
    videos_source: str = ""

    @property
    def models(self) -> list[str]:
        return [str(m) for m in self.per_model["model"]]

    @property
    def rank_fields(self) -> list[FieldInfo]:
        """The fields the leaderboard ranks on (score fields with values, then accuracy)."""
        specs = self.leaderboard.attrs.get("metrics") or []
        by_col = {f.column: f for f in self.fields}
        if ACCURACY in self.per_model.columns:
            by_col[ACCURACY] = accuracy_field()
        return [by_col[s.column] for s in specs if s.column in by_col]

    @property
    def n_failed(self) -> int:
        return int(self.scores["error"].notna().sum())

    def write(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """Save to ``out_dir``: ``scores.csv`` (one row per video), ``qa.csv`` (one row per
        question, when there are any), ``models.csv``, ``dimensions.csv`` (long),
        ``leaderboard.{csv,json}``, ``suite.jsonl`` and ``bench.json`` (what was run). The
        Markdown leaderboard is rendering: :func:`videojury.report.leaderboard.write_markdown`
        (``videojury bench`` writes it as ``leaderboard.md``)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}

        def save(key: str, name: str, text: str) -> None:
            p = out / name
            p.write_text(text, encoding="utf-8")
            paths[key] = p

        # With its field metadata (scores.csv.fields.json), so correlate/fit/leaderboard
        # read the directions of its columns.
        paths["scores"] = write_table(self.scores, out / "scores.csv", fields=self.fields)
        if self.qa is not None and len(self.qa):
            save("qa", "qa.csv", self.qa.to_csv(index=False))
        paths["models"] = write_table(self.per_model, out / "models.csv",
                                      fields=[*self.fields, accuracy_field()])
        save("dimensions", "dimensions.csv", self.per_dimension.to_csv(index=False))
        save("leaderboard_csv", "leaderboard.csv", to_csv(self.leaderboard, self.intervals))
        save("leaderboard_json", "leaderboard.json", to_json(self.leaderboard, self.intervals))
        if self.intervals is not None:
            save("intervals", "rank_intervals.csv", self.intervals.to_csv(index=False))
        paths["suite"] = self.suite.write(out / "suite.jsonl")
        meta = {
            "videojury": __version__,
            "suite": {"name": self.suite.name, "source": self.suite.source,
                      "prompts": len(self.suite), "dimensions": self.suite.dimensions,
                      "questions": self.suite.n_questions},
            "videos": self.videos_source,
            "metrics": self.metrics,
            "fields": [f.to_dict() for f in self.fields],
            "ranked": [s.column for s in self.leaderboard.attrs.get("metrics", [])],
            "accuracy_source": self.accuracy_source,
            "bootstrap": dict(self.intervals.attrs) if self.intervals is not None else None,
            "summary": self.summary,
            "problems": self.problems,
            "failed": self.n_failed,
        }
        save("meta", "bench.json", json.dumps(meta, indent=2, ensure_ascii=False,
                                              default=_json_default) + "\n")
        return paths


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    return str(o)


def load_result(out_dir: str | os.PathLike) -> BenchResult:
    """Read back a folder written by :meth:`BenchResult.write` (for ``videojury report``)."""
    d = Path(out_dir)
    meta_path = d / "bench.json"
    if not meta_path.exists():
        raise InputError(f"{d}: no bench.json here; point at the --out folder of "
                         "'videojury bench'")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{meta_path}: not valid JSON ({exc.msg})") from None
    for name in ("suite.jsonl", "scores.csv", "models.csv", "dimensions.csv"):
        if not (d / name).is_file():
            raise InputError(f"{d / name}: missing; a 'videojury bench --out' folder has bench.json, "
                             "suite.jsonl, scores.csv, models.csv and dimensions.csv (rerun the bench "
                             "with the same --store to write them again without rescoring)")
    try:
        return _load_result(d, meta)
    except (KeyError, TypeError, ValueError, pd.errors.ParserError) as exc:
        # A hand-edited or truncated file: say which folder, not a traceback.
        raise InputError(f"{d}: cannot read the bench results ({type(exc).__name__}: {exc}); "
                         "rerun 'videojury bench' to write them again") from None


def _load_result(d: Path, meta: dict) -> BenchResult:
    suite = load_suite(d / "suite.jsonl", "videojury", name=meta["suite"]["name"])
    fields = [FieldInfo(**f) for f in meta["fields"]]
    # Only empty cells are missing: a model or prompt called "NA" or "None" stays a name.
    text = {"keep_default_na": False, "na_values": [""]}
    scores = pd.read_csv(d / "scores.csv", dtype={"model": str, "prompt_id": str}, **text)
    scores["error"] = scores["error"].astype(object).where(scores["error"].notna(), None)
    per_model = pd.read_csv(d / "models.csv", dtype={"model": str}, **text)
    per_dim = pd.read_csv(d / "dimensions.csv", dtype={"model": str, "dimension": str}, **text)
    qa = pd.read_csv(d / "qa.csv", dtype=str, **text) if (d / "qa.csv").exists() else None
    if qa is not None and "correct" in qa.columns:
        qa["correct"] = qa["correct"].map({"True": True, "False": False}).fillna(False)
        qa["predicted"] = qa["predicted"].where(qa["predicted"].notna(), None)
    by_col = {f.column: f for f in fields}
    by_col[ACCURACY] = accuracy_field()
    specs = [by_col[c] for c in meta["ranked"] if c in by_col]
    board = rank_table(per_model, "model", specs)
    intervals = None
    if (d / "rank_intervals.csv").exists():
        intervals = pd.read_csv(d / "rank_intervals.csv", dtype={"model": str}, **text)
        intervals.attrs.update(meta.get("bootstrap") or {})
    return BenchResult(suite, fields, scores, per_model, per_dim, board, qa, intervals,
                       meta.get("metrics", []), meta.get("problems", []), meta.get("summary", ""),
                       None, meta.get("accuracy_source"), meta.get("videos", ""))


def _video_rows(check: BenchCheck) -> pd.DataFrame:
    """One row per (model, video file), with the suite's prompt and dimensions.

    A manifest with human answers lists a file once per question: those rows
    collapse. A file listed under several models stays one row per model (each
    model is ranked on it); the store computes its scores once, keyed by content."""
    t = check.matched.drop_duplicates(["model", "video"], keep="first")
    suite = check.suite
    rows = []
    for rec in t.to_dict("records"):
        sp = suite[rec["prompt_id"]]
        sample = rec.get("sample")
        rows.append({"video": rec["video"], "model": rec["model"], "prompt_id": sp.prompt_id,
                     "prompt": sp.prompt, "dimension": sp.dimension,
                     "sample": None if sample is None or (isinstance(sample, float) and
                                                          math.isnan(sample)) else sample,
                     "rel": rec["rel"]})
    return pd.DataFrame(rows)


def _question_rows(videos: pd.DataFrame, suite: Suite) -> pd.DataFrame:
    """One row per (video, suite question), for metrics that answer questions."""
    rows = []
    for rec in videos.to_dict("records"):
        sp = suite[rec["prompt_id"]]
        for q in sp.questions:
            dims = q.dimensions or sp.dimensions
            rows.append({**rec, "dimension": "|".join(dims) if dims else None,
                         "question": q.question, "expected": q.expected})
    return pd.DataFrame(rows)


def _human_answers(check: BenchCheck) -> tuple[pd.DataFrame | None, list[str]]:
    """Human yes/no answers from a manifest's ``question``/``answer`` columns."""
    t = check.matched
    if "question" not in t.columns or "answer" not in t.columns:
        return None, []
    has = t["question"].notna() & t["answer"].notna() & (t["question"].astype(str).str.strip()
                                                         != "")
    t = t[has]
    if len(t) == 0:
        return None, []
    suite = check.suite
    rows, unmatched = [], []
    for rec in t.to_dict("records"):
        sp = suite[rec["prompt_id"]]
        q = str(rec["question"]).strip()
        match = next((x for x in sp.questions if x.question == q), None)
        expected = normalize_yes_no(rec.get("expected")) if rec.get("expected") is not None \
            and not (isinstance(rec.get("expected"), float) and math.isnan(rec["expected"])) \
            else (match.expected if match else None)
        if expected is None:
            unmatched.append(f"{rec['rel']}: {q!r}")
            continue
        dims = (match.dimensions if match and match.dimensions else sp.dimensions)
        rows.append({"video": rec["video"], "model": rec["model"], "prompt_id": sp.prompt_id,
                     "dimension": "|".join(dims) if dims else None, "question": q,
                     "expected": expected, "answer": str(rec["answer"]), "source": "human"})
    problems = []
    if unmatched:
        more = f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
        problems.append(f"{len(unmatched)} human answer(s) are to questions the suite does not "
                        f"have and the manifest gives no 'expected' answer for; they are left "
                        f"out of task accuracy: {'; '.join(unmatched[:5])}{more}")
    return (pd.DataFrame(rows) if rows else None), problems


def _merge_stats(a: RunStats | None, b: RunStats) -> RunStats:
    """Two runs' statistics as one: counts and times add, per-metric times merge,
    peak memory is the larger (field by field, so new statistics merge too)."""
    if a is None:
        return b
    out = RunStats()
    for f in dataclasses.fields(RunStats):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name.startswith("peak"):
            v: Any = max(x, y)
        elif isinstance(x, dict):
            v = dict(x)
            for k, t in y.items():
                v[k] = t if isinstance(t, str) else v.get(k, 0.0) + t  # load_errors: messages
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            v = x + y
        else:
            v = x
        setattr(out, f.name, v)
    return out


def _fan_out(scored: pd.DataFrame, unique: pd.DataFrame, rows: pd.DataFrame,
             key: list[str]) -> pd.DataFrame:
    """The results ``scored`` of the ``unique`` items (one row each, in their order) for
    every row of ``rows``: each row keeps its own columns (model, rel, ...) and gets its
    item's scores."""
    if len(unique) == len(rows):
        return scored
    pos = {k: i for i, k in enumerate(zip(*(unique[c] for c in key)))}
    out = scored.iloc[[pos[k] for k in zip(*(rows[c] for c in key))]].reset_index(drop=True)
    for c in rows.columns:
        out[c] = rows[c].to_numpy()
    out.attrs.update(scored.attrs)
    return out


def pending_count(items: pd.DataFrame, metrics: Sequence[Metric], store: Store) -> tuple[int, int]:
    """(results in total, results still to compute) for these rows and metrics."""
    if not len(items) or not metrics:
        return 0, 0
    p = plan_job(load_items(items), list(metrics), store)
    return p.total, len(p.pending)


def run_bench(check: BenchCheck, metrics: Sequence[str | Metric] | str | Metric,
              store: str | os.PathLike | Store | None = None, *,
              qa_field: str | None = None, bootstrap: int = 1000, seed: int = 0,
              confidence: float = 0.95, retry_errors: bool = False,
              on_plan: Callable[[int, int], None] | None = None,
              progress: Callable[[int], None] | None = None) -> BenchResult:
    """Score, aggregate and rank; see the module docstring.

    ``on_plan(total, pending)`` is called once before scoring with the number
    of results the run needs and how many are not in the store yet;
    ``progress(n)`` after every ``n`` results computed. ``bootstrap``
    replicates over prompts give each model a rank interval (0 turns it off).
    """
    metric_objs = resolve_metrics(metrics)
    plain = [m for m in metric_objs if not m.needs_question]
    asking = [m for m in metric_objs if m.needs_question]
    videos = _video_rows(check)
    questions = _question_rows(videos, check.suite) if asking else pd.DataFrame()
    if asking and len(questions) == 0:
        raise InputError(f"metric {asking[0].label} answers questions, but suite "
                         f"{check.suite.name!r} has none; add 'question' and 'expected' "
                         "columns to the suite")
    human, problems = _human_answers(check)
    problems = check.problems() + problems

    own = not isinstance(store, Store)
    st = Store(store) if own else store  # type: ignore[arg-type]
    try:
        # A file listed under several models is one item to score (per prompt and
        # question); its results are then given to each of its models' rows.
        vkey, qkey = ["video", "prompt_id"], ["video", "prompt_id", "question"]
        u_videos = videos.drop_duplicates(vkey).reset_index(drop=True)
        u_questions = questions.drop_duplicates(qkey).reset_index(drop=True) if asking \
            else questions
        total = pending = 0
        for rows, ms in ((u_videos, plain), (u_questions, asking)):
            t, p = pending_count(rows, ms, st)
            total, pending = total + t, pending + p
        if on_plan is not None:
            on_plan(total, pending)
        stats: RunStats | None = None
        if plain:
            scores, s = score(u_videos, metrics=plain, store=st, retry_errors=retry_errors,
                              progress=progress, return_stats=True)
            scores = _fan_out(scores, u_videos, videos, vkey)
            stats = _merge_stats(stats, s)
        else:
            scores = videos.assign(error=None)
        qa_scores = None
        if asking:
            qa_scores, s = score(u_questions, metrics=asking, store=st, retry_errors=retry_errors,
                                 progress=progress, return_stats=True)
            qa_scores = _fan_out(qa_scores, u_questions, questions, qkey)
            stats = _merge_stats(stats, s)
    finally:
        if own:
            st.close()

    fields = fields_of(plain) if plain else []
    # Answers for task accuracy: people first, else the first QA metric.
    qa, source = None, None
    if human is not None:
        qa, source = human, "human"
    elif qa_scores is not None:
        m = asking[0]
        col = qa_field_of(m, qa_field)
        p_yes = qa_scores[col].to_numpy(dtype=float)
        answers = [None if not math.isfinite(v) else ("yes" if v >= 0.5 else "no") for v in p_yes]
        qa = qa_scores[["video", "model", "prompt_id", "dimension", "question", "expected"]].copy()
        qa["answer"] = answers
        qa[col] = p_yes
        qa["source"] = m.label
        source = m.label
    if qa is not None:
        qa = judge_answers(qa)

    models = check.models
    per_model = model_means(scores, fields, models)
    per_dim = dimension_means(scores, fields) if fields else pd.DataFrame(
        columns=["model", "dimension", "field", "value", "n"])
    if qa is not None:
        acc = task_accuracy(qa, models)
        per_model = per_model.merge(acc, on="model", how="left")
        per_dim = pd.concat([per_dim, accuracy_by_dimension(qa)], ignore_index=True)
    specs = [f for f in fields if per_model[f.column].notna().any()]
    if qa is not None:
        specs.append(accuracy_field())
    if not specs:
        raise InputError("no metric produced a value for any video; see the 'error' column of "
                         "the scores")
    board = rank_table(per_model, "model", specs)
    intervals = None
    n_prompts = scores["prompt_id"].nunique()
    if bootstrap and n_prompts >= 2 and len(models) >= 2:
        long = per_prompt(scores, fields, qa)
        intervals = bootstrap_ranks(long, "model", "prompt_id", specs, n_boot=bootstrap,
                                    seed=seed, confidence=confidence)
    return BenchResult(check.suite, fields, scores, per_model, per_dim, board, qa, intervals,
                       [m.label for m in metric_objs], problems, check.summary(), stats, source,
                       check.videos.source)


__all__ = ["BenchResult", "load_result", "pending_count", "qa_field_of", "run_bench"]
