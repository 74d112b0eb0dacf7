"""LOVE's two V2T leaderboards: evaluators ranked on perception, correspondence and QA.

The LOVE / AIGVE-60K README ranks evaluators of AI-generated video in two
tables, at the instance level and at the model level. Each evaluator has a
perception SRCC (against the perception MOS), a correspondence SRCC (against
the text-video correspondence MOS) and a QA accuracy (its yes/no answers
against the human answers); each column is ranked with standard competition
ranks (ties share the best rank: 1, 2, 2, 4), the three ranks are summed and
the sums ranked the same way (:func:`videojury.analysis.leaderboard.rank_table`).

* Instance level: SRCC over all videos; QA accuracy over all question rows.
* Model level: SRCC between the per-T2V-model means of score and MOS; for QA,
  the SRCC between each model's share of "yes" answers by the evaluator and by
  people. The README does not define its model-level QA column (it prints
  fractions such as 0.98 beside instance accuracies near 0.79); this is
  videojury's reading of it, named as such in the output.

An evaluator is given as ``NAME=PERCEPTION_FIELD,CORRESPONDENCE_FIELD[,QA_FIELD]``
(``-`` for none) or as one ``FIELD``, which is then used for both SRCCs and has
no QA answers. A missing value shares the last rank of its column, so an
evaluator that cannot answer questions cannot win on QA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .leaderboard import MEDALS, rank_table

COLUMNS = ("perception_srcc", "correspondence_srcc", "qa_acc")
LEVELS = ("instance", "model")


@dataclass(frozen=True)
class Evaluator:
    """One row of a V2T table: which score columns answer which question."""

    name: str
    perception: str | None
    correspondence: str | None
    qa: str | None = None


def parse_evaluator(text: str) -> Evaluator:
    """``NAME=PERC,CORR[,QA]`` (``-`` or empty for none) or a bare ``FIELD``."""
    text = text.strip()
    if not text:
        raise InputError("empty --evaluator; give NAME=PERCEPTION_FIELD,CORRESPONDENCE_FIELD[,QA_FIELD]")
    if "=" not in text:
        return Evaluator(text, text, text, None)
    name, _, rest = text.partition("=")
    parts = [p.strip() for p in rest.split(",")]
    if not name.strip() or len(parts) not in (2, 3):
        raise InputError(f"--evaluator {text!r}: use NAME=PERCEPTION_FIELD,CORRESPONDENCE_FIELD[,QA_FIELD] "
                         "('-' for a column the evaluator does not have)")
    parts += [""] * (3 - len(parts))
    perc, corr, qa = (None if p in ("", "-") else p for p in parts)
    if perc is None and corr is None and qa is None:
        raise InputError(f"--evaluator {text!r} names no column")
    return Evaluator(name.strip(), perc, corr, qa)


def _srcc_lookup(table: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    t = table[table["breakdown"] == "all"]
    return {(r.field, r.human_dimension, r.level): float(r.srcc) for r in t.itertuples()}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.nanstd(a) == 0 or np.nanstd(b) == 0:
        return float("nan")
    return float(pd.Series(a).corr(pd.Series(b), method="spearman"))


def _qa_values(qa_pred: pd.DataFrame, qa_human: pd.DataFrame, fields: Sequence[str],
               models: Mapping[str, str]) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """Per QA field: (instance accuracy, model-level SRCC of yes-rates)."""
    from ..matching import norm_path
    from .agreement import qa_join
    from .qa import normalize_yes_no, qa_accuracy

    m, notes = qa_join(qa_pred, qa_human, keep=fields)
    if "model" not in m.columns:
        m["model"] = [models.get(norm_path(str(v))) for v in m["video"]]
    out = {}
    for f in fields:
        if f not in m.columns:
            raise InputError(f"QA predictions have no answer column {f!r}; columns: "
                             f"{', '.join(map(str, m.columns))}")
        acc = qa_accuracy(m[f].tolist(), m["_human_answer"].tolist())["accuracy"]
        hum = [normalize_yes_no(v) for v in m["_human_answer"]]
        prd = [normalize_yes_no(v) for v in m[f]]
        d = pd.DataFrame({"model": m["model"].to_numpy(),
                          "h": [np.nan if h is None else float(h == "yes") for h in hum],
                          "p": [float(p == "yes") for p in prd]})
        d = d[d["h"].notna() & d["model"].notna()]
        if d.empty:
            model_level = float("nan")
        else:
            g = d.groupby("model", sort=True)[["p", "h"]].mean()
            model_level = _spearman(g["p"].to_numpy(), g["h"].to_numpy())
        out[f] = (float(acc), model_level)
    if len(m) and m["model"].isna().all():
        notes.append("QA: no model for the QA rows (no 'model' column, no matching prediction video): "
                     "model-level QA left blank")
    return out, notes


def v2t_tables(
    predictions: pd.DataFrame,
    human: pd.DataFrame,
    evaluators: Sequence[Evaluator | str],
    *,
    qa_predictions: pd.DataFrame | None = None,
    qa_human: pd.DataFrame | None = None,
    directions: Mapping[str, str] | None = None,
    perception: str = "perception",
    correspondence: str = "correspondence",
    allow_unmatched: bool = False,
    drop_missing: bool = False,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The instance- and model-level V2T tables, and notes.

    ``predictions``: one row per video (``video``, ``model`` for the model
    level, score columns); ``human``: ``video, dimension, mos`` with the
    ``perception`` and ``correspondence`` dimensions (LOVE's file names give
    them); ``qa_predictions`` (default ``predictions``): ``video, question``
    and each evaluator's answer column; ``qa_human``: ``video, question,
    answer``. Returns ``{"instance": table, "model": table}``, each ranked by
    :func:`rank_table` (columns ``evaluator``, the three values, ``rank:<col>``,
    ``rank_sum``, ``overall_rank``).
    """
    from ..matching import norm_path
    from .agreement import agreement

    evs = [e if isinstance(e, Evaluator) else parse_evaluator(e) for e in evaluators]
    if not evs:
        raise InputError("no evaluator given for the V2T tables (--evaluator NAME=PERC,CORR[,QA])")
    dup = [e.name for i, e in enumerate(evs) if e.name in {x.name for x in evs[:i]}]
    if dup:
        raise InputError(f"evaluator {dup[0]!r} is given twice")
    fields = list(dict.fromkeys(f for e in evs for f in (e.perception, e.correspondence) if f))
    dims = set(human["dimension"].astype(str)) if human is not None and len(human) else set()
    for want, fl in ((perception, [e.perception for e in evs if e.perception]),
                     (correspondence, [e.correspondence for e in evs if e.correspondence])):
        if fl and want not in dims:
            raise InputError(f"V2T tables: no human labels for dimension {want!r} (have: "
                             f"{', '.join(sorted(dims)) or 'none'}); load the MOS files as "
                             f"--human {want}=PATH")
    notes: list[str] = []
    look: dict = {}
    if fields:
        res = agreement(predictions, human, fields=fields, directions=directions,
                        levels=("instance", "model"), by=(), n_resamples=0,
                        allow_unmatched=allow_unmatched, drop_missing=drop_missing)
        look = _srcc_lookup(res.table)
        notes.extend(res.notes)
    qa_fields = list(dict.fromkeys(e.qa for e in evs if e.qa))
    qa_vals: dict[str, tuple[float, float]] = {}
    if qa_fields:
        if qa_human is None:
            raise InputError("an evaluator names a QA answer column but no human QA answers were given "
                             "(--qa PATH)")
        models = {}
        if "model" in predictions.columns:
            models = {norm_path(str(v)): m for v, m in zip(predictions["video"], predictions["model"])}
        qa_vals, qn = _qa_values(predictions if qa_predictions is None else qa_predictions,
                                 qa_human, qa_fields, models)
        notes.extend(qn)
    nan = float("nan")
    out = {}
    for level in LEVELS:
        rows = []
        for e in evs:
            rows.append({
                "evaluator": e.name,
                "perception_srcc": look.get((e.perception, perception, level), nan) if e.perception else nan,
                "correspondence_srcc": (look.get((e.correspondence, correspondence, level), nan)
                                        if e.correspondence else nan),
                "qa_acc": qa_vals[e.qa][0 if level == "instance" else 1] if e.qa else nan,
            })
        df = pd.DataFrame(rows)
        t = rank_table(df, "evaluator", [(c, True) for c in COLUMNS])
        t.attrs["level"] = level
        out[level] = t
    return out, notes


def v2t_markdown(table: pd.DataFrame, level: str) -> str:
    """A table shaped like the LOVE README's: rank (medals for 1-3), method, value and rank per column."""
    qa_head = "QA Acc (%)" if level == "instance" else "QA (model SRCC of yes-rates)"
    lines = [f"| Rank | Method | Perception SRCC | Rank | Correspondence SRCC | Rank | {qa_head} | Rank |",
             "|---|---|---|---|---|---|---|---|"]

    def val(v: float, pct: bool) -> str:
        if v != v:
            return "-"
        return f"{100 * v:.2f}" if pct else f"{v:.4f}"

    for r in table.itertuples(index=False):
        d = dict(zip(table.columns, r))
        rank = int(d["overall_rank"])
        lines.append("| " + " | ".join([
            MEDALS.get(rank, str(rank)), f"**{d['evaluator']}**",
            val(d["perception_srcc"], False), str(int(d["rank:perception_srcc"])),
            val(d["correspondence_srcc"], False), str(int(d["rank:correspondence_srcc"])),
            val(d["qa_acc"], level == "instance"), str(int(d["rank:qa_acc"])),
        ]) + " |")
    return "\n".join(lines)


def long_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Both levels in one tidy table (a ``level`` column first), for ``--out``."""
    parts = [t.assign(level=level)[["level", *t.columns]] for level, t in tables.items()]
    return pd.concat(parts, ignore_index=True)


def synthetic_aigve(seed: int = 0, n_models: int = 8, n_prompts: int = 40,
                    questions: int = 2) -> dict[str, object]:
    """A small dataset shaped like AIGVE-60K, with known truth, for tests and demos.

    ``n_models`` T2V models x ``n_prompts`` prompts (over five task
    dimensions), one video each; per video a latent quality and alignment
    (model level plus noise), perception and correspondence MOS (latent plus
    rater noise), ``questions`` yes/no questions with the true answer, and
    five evaluators whose order is known by construction: ``oracle`` (small
    noise, 5% wrong answers), ``good``, ``fair``, ``quality_only`` (one
    quality score for both axes, no QA) and ``random``. Returns the tables
    ``predictions``, ``perception``, ``correspondence``, ``qa`` (human) and
    ``qa_predictions``, and the evaluator specs.
    """
    rng = np.random.default_rng(seed)
    dims = ["object", "count", "color", "motion", "style"]
    mq = np.linspace(-1.0, 1.0, n_models)
    ma = rng.permutation(np.linspace(-1.0, 1.0, n_models))
    rows, perc, corr, qa_h, qa_p = [], [], [], [], []
    noise = {"oracle": (0.15, 0.05), "good": (0.6, 0.15), "fair": (1.2, 0.3)}
    for m in range(n_models):
        model = f"t2v_{chr(ord('A') + m)}"
        for p in range(n_prompts):
            video = f"{model}/{p:04d}.mp4"
            q = mq[m] + rng.normal(0, 0.6)
            a = ma[m] + rng.normal(0, 0.6)
            row = {"video": video, "model": model, "prompt_id": f"p{p:04d}", "dimension": dims[p % 5]}
            for name, (s, _) in noise.items():
                row[f"{name}_quality"] = q + rng.normal(0, s)
                row[f"{name}_alignment"] = a + rng.normal(0, s)
            row["quality_only"] = q + rng.normal(0, 0.4)
            row["random_quality"] = rng.normal()
            row["random_alignment"] = rng.normal()
            rows.append(row)
            perc.append({"video": video, "dimension": "perception", "mos": 3 + q + rng.normal(0, 0.2)})
            corr.append({"video": video, "dimension": "correspondence", "mos": 3 + a + rng.normal(0, 0.2)})
            for k in range(questions):
                question = f"Does the video show element {k} of prompt {p}?"
                truth = "Yes" if rng.random() < 1 / (1 + np.exp(-2.5 * a)) else "No"
                qa_h.append({"video": video, "question": question, "answer": truth})
                ans = {"video": video, "question": question, "model": model}
                for name, (_, flip) in noise.items():
                    wrong = rng.random() < flip
                    ans[f"{name}_answer"] = ("No" if truth == "Yes" else "Yes") if wrong else truth
                ans["random_answer"] = "Yes" if rng.random() < 0.5 else "No"
                qa_p.append(ans)
    evaluators = [f"{n}={n}_quality,{n}_alignment,{n}_answer" for n in noise]
    evaluators += ["quality_only", "random=random_quality,random_alignment,random_answer"]
    return {"predictions": pd.DataFrame(rows), "perception": pd.DataFrame(perc),
            "correspondence": pd.DataFrame(corr), "qa": pd.DataFrame(qa_h),
            "qa_predictions": pd.DataFrame(qa_p), "evaluators": evaluators}


def _write_love_jsonl(path, rows: pd.DataFrame, kind: str) -> None:
    """Rows in LOVE's released JSONL layout (a ``conversations`` pair per video or question)."""
    import json

    with open(path, "w", encoding="utf-8") as fh:
        for r in rows.itertuples():
            if kind == "mos":
                turns = [{"from": "human", "value": "<video>\nRate the video."},
                         {"from": "gpt", "value": f"{r.mos:.2f}"}]
                rec = {"video": r.video, "mos": r.mos, "conversations": turns}
            else:
                turns = [{"from": "human", "value": f"<video>\n{r.question}"},
                         {"from": "gpt", "value": r.answer}]
                rec = {"video": r.video, "conversations": turns}
            fh.write(json.dumps(rec) + "\n")


def write_synthetic_aigve(folder, seed: int = 0, **shape: int) -> list[str]:
    """Write :func:`synthetic_aigve` to ``folder`` as a user would have it; the ``correlate`` argv.

    Files: ``scores.csv`` (the evaluators' score columns per video),
    ``answers.csv`` (their yes/no answers per question) and the human side in
    LOVE's JSONL layout: ``perception_test.jsonl``, ``correspondence_test.jsonl``
    (MOS; LOVE's file names give the dimension) and ``qa_test.jsonl``. The
    returned arguments (after ``videojury``) print the two V2T tables and
    write them to ``agreement.v2t.csv`` there.
    """
    from pathlib import Path

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    data = synthetic_aigve(seed=seed, **shape)
    data["predictions"].to_csv(d / "scores.csv", index=False)
    data["qa_predictions"].to_csv(d / "answers.csv", index=False)
    _write_love_jsonl(d / "perception_test.jsonl", data["perception"], "mos")
    _write_love_jsonl(d / "correspondence_test.jsonl", data["correspondence"], "mos")
    _write_love_jsonl(d / "qa_test.jsonl", data["qa"], "qa")
    fields = [c for c in data["predictions"].columns
              if c not in ("video", "model", "prompt_id", "dimension")]
    argv = ["correlate", str(d / "scores.csv"),
            "--human", str(d / "perception_test.jsonl"),
            "--human", str(d / "correspondence_test.jsonl"),
            "--qa", str(d / "qa_test.jsonl"), "--qa-predictions", str(d / "answers.csv"),
            "--v2t", "--bootstrap", "0", "--level", "instance", "--no-breakdown",
            "-o", str(d / "agreement.csv")]
    for f in fields:  # every synthetic score is higher-is-better
        argv += ["--higher-better", f]
    for e in data["evaluators"]:
        argv += ["--evaluator", e]
    return argv


if __name__ == "__main__":  # python -m videojury.analysis.v2t FOLDER [SEED]
    import shlex
    import sys

    usage = ("usage: python -m videojury.analysis.v2t FOLDER [SEED]  (writes the synthetic "
             "AIGVE-60K-shaped set and prints the correlate command)")
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and not sys.argv[2].isdigit()):
        sys.exit(usage)
    args = write_synthetic_aigve(sys.argv[1], seed=int(sys.argv[2]) if len(sys.argv) == 3 else 0)
    print("videojury " + " ".join(shlex.quote(a) for a in args))
