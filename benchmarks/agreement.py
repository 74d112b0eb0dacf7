"""Time the agreement statistics at AIGVE-60K size.

Synthetic data shaped like AIGVE-60K: 30 T2V models x 2,000 prompts =
60,000 videos, 20 prompt dimensions, 3 human dimensions, one or more metric
fields. Times, with 1,000 bootstrap resamples each:

* the join of 60k scores to 180k human labels (paths matched by suffix);
* one field x one human dimension on all 60k videos: SRCC, KRCC, PLCC, PLCC
  after the logistic fit and RMSE with CIs; the model level; same-prompt
  pair accuracy (870k pairs, prompt-clustered CI);
* the full ``agreement()`` table: every field x 3 human dimensions x
  {instance, model, pair} x {all, 20 prompt dimensions};
* a paired bootstrap comparing two metrics on 60k videos.

Run: ``python benchmarks/agreement.py [--fields 1] [--resamples 1000]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from videojury.analysis.agreement import (  # noqa: E402
    agreement,
    correlate,
    join_scores,
    model_level,
    pair_accuracy,
    prompt_pairs,
)
from videojury.stats.significance import paired_bootstrap  # noqa: E402


def make_data(n_models: int, n_prompts: int, n_fields: int, seed: int = 0):
    """Scores and human labels with model, prompt and per-video effects."""
    rng = np.random.default_rng(seed)
    n = n_models * n_prompts
    model = np.repeat(np.arange(n_models), n_prompts)
    prompt = np.tile(np.arange(n_prompts), n_models)
    quality = 0.08 * model + 0.5 * rng.normal(size=n_prompts)[prompt] + rng.normal(size=n)
    pred = pd.DataFrame({
        "video": [f"/data/aigve/M{m:02d}/{p:05d}.mp4" for m, p in zip(model, prompt)],
        "prompt": [f"prompt {p}" for p in prompt],
        "model": [f"M{m:02d}" for m in model],
        "prompt_id": [f"p{p:05d}" for p in prompt],
        "dimension": [f"dim{p % 20:02d}" for p in prompt],
    })
    for k in range(n_fields):
        pred[f"metric{k}"] = quality + rng.normal(0, 0.8 + 0.2 * k, size=n)
    pred["error"] = None
    rel = [f"M{m:02d}/{p:05d}.mp4" for m, p in zip(model, prompt)]
    human = pd.concat([
        pd.DataFrame({"video": rel, "dimension": d, "mos": np.round(50 + 10 * (quality + rng.normal(0, s, n)), 2)})
        for d, s in (("perception", 0.4), ("correspondence", 0.6), ("overall", 0.5))
    ], ignore_index=True)
    return pred, human


def timed(label: str, fn, rows: list):
    # Wall time and this process's CPU time: on a shared machine the wall
    # clock also counts other jobs, the CPU time does not.
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    rows.append((label, dt, dc))
    print(f"  {label:<70s} wall {dt:7.2f} s  cpu {dc:7.2f} s", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=30)
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--fields", type=int, default=1)
    ap.add_argument("--resamples", type=int, default=1000)
    args = ap.parse_args()
    B = args.resamples
    pred, human = make_data(args.models, args.prompts, max(args.fields, 2))
    fields = [f"metric{k}" for k in range(args.fields)]
    dirs = {f: "higher" for f in fields}  # a synthetic DataFrame carries no field metadata
    n = len(pred)
    print(f"videojury agreement benchmark: {n:,} videos x 3 human dimensions, {args.fields} field(s), "
          f"{B} resamples")
    print(f"  python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPU(s), "
          f"{platform.processor() or platform.machine()}")
    rows: list = []
    joined, rep = timed("join 60k scores to 180k labels (suffix matching)",
                        lambda: join_scores(pred, human), rows)
    sub = joined[joined["human_dimension"] == "perception"].reset_index(drop=True)
    x = sub["metric0"].to_numpy()
    y = sub["mos"].to_numpy()
    r = timed("instance: SRCC/KRCC/PLCC/PLCC-fit/RMSE + CIs, 60k videos",
              lambda: correlate(x, y, n_resamples=B), rows)
    print(f"      SRCC {r['srcc']:.4f} [{r['srcc_low']:.4f}, {r['srcc_high']:.4f}] ({r['srcc_method']}), "
          f"KRCC {r['krcc']:.4f} [{r['krcc_low']:.4f}, {r['krcc_high']:.4f}] ({r['krcc_method']}), "
          f"PLCC-fit {r['plcc_fit']:.4f}")
    timed("instance, prompt-clustered CIs (2,000 clusters)",
          lambda: correlate(x, y, n_resamples=B, clusters=sub["prompt_id"].to_numpy()), rows)
    m = timed("model level (30 models) + CIs", lambda: model_level(x, y, sub["model"].to_numpy(), n_resamples=B), rows)
    print(f"      model-level SRCC {m['srcc']:.4f} [{m['srcc_low']:.4f}, {m['srcc_high']:.4f}]")
    b, w, g = timed("same-prompt pairs with distinct MOS", lambda: prompt_pairs(sub["prompt_id"].to_numpy(), y), rows)
    pa = timed(f"pair accuracy on {b.size:,} pairs + prompt-clustered CI",
               lambda: pair_accuracy(x, b, w, clusters=g, n_resamples=B), rows)
    print(f"      pair accuracy {pa['pair_acc']:.4f} [{pa['pair_acc_low']:.4f}, {pa['pair_acc_high']:.4f}]")
    x2 = sub["metric1"].to_numpy()
    cmp = timed("paired bootstrap metric0 vs metric1 (SRCC difference)",
                lambda: paired_bootstrap(y, x, x2, statistic="srcc", n_resamples=B), rows)
    print(f"      diff {cmp['diff']:.4f} [{cmp['ci_low']:.4f}, {cmp['ci_high']:.4f}], p = {cmp['p']:.4f}")
    res = timed(f"agreement(): {args.fields} field x 3 dims x 3 levels, overall only",
                lambda: agreement(pred, human, fields=fields, directions=dirs, by=(), n_resamples=B), rows)
    res2 = timed(f"agreement(): {args.fields} field x 3 dims x 3 levels x (all + 20 prompt dims)",
                 lambda: agreement(pred, human, fields=fields, directions=dirs, n_resamples=B), rows)
    print(f"      {len(res.table)} and {len(res2.table)} result rows")
    print("summary (seconds, wall / cpu):")
    for label, dt, dc in rows:
        print(f"  {dt:7.2f} / {dc:7.2f}  {label}")
    if hasattr(os, "getloadavg"):
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
