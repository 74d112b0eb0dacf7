"""``videojury correlate``: how well metric scores agree with people."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    """Add the ``correlate`` sub-command."""
    p = sub.add_parser(
        "correlate",
        help="agreement of metric scores with human labels (SRCC/KRCC/PLCC with CIs, pair and QA accuracy)",
        description="Join a score table (e.g. `videojury score --out`) to human labels by video and report "
                    "SRCC, KRCC, PLCC (raw and after the VQEG 4-parameter logistic), RMSE, pair accuracy "
                    "and QA accuracy with bootstrap CIs, per field and human dimension, at the instance and "
                    "model levels and per breakdown. See docs/agreement.md.",
    )
    p.add_argument("predictions", type=Path, help="score table with a 'video' column and score columns")
    p.add_argument("--human", action="append", default=[], metavar="[NAME=]PATH",
                   help="human labels: a table (video, mos[, dimension, model, prompt_id]), the output of "
                        "`videojury mos`, or a LOVE/AIGVE-60K JSONL; NAME sets the dimension of files that have "
                        "none (LOVE files: guessed from the name). Repeatable.")
    p.add_argument("--human-video-col", default="video", help="video column of the human tables (default: video)")
    p.add_argument("--human-mos-col", default="mos", help="MOS column of the human tables (default: mos)")
    p.add_argument("--human-dimension-col", default="dimension", help="dimension column of the human tables")
    p.add_argument("--field", action="append", default=None, metavar="F",
                   help="score column to evaluate (repeatable; default: every numeric non-metadata column)")
    p.add_argument("--higher-better", action="append", default=[], metavar="F",
                   help="field F is higher-is-better (needed for a column the table's field metadata does "
                        "not describe, e.g. a table not written by videojury)")
    p.add_argument("--lower-better", action="append", default=[], metavar="F",
                   help="field F is lower-is-better: its sign is flipped so agreement is positive")
    p.add_argument("--level", action="append", choices=("instance", "model", "pair"), default=None,
                   help="levels to compute (repeatable; default: all three)")
    p.add_argument("--by", action="append", default=None, metavar="COL",
                   help="breakdown column(s) of the predictions (default: dimension)")
    p.add_argument("--no-breakdown", action="store_true", help="overall rows only")
    p.add_argument("--pairs", type=Path, default=None,
                   help="explicit human preferences (video_a, video_b, winner[, dimension]) for pair accuracy")
    p.add_argument("--qa", type=Path, default=None,
                   help="human QA answers: LOVE QA JSONL or a table with video, answer[, question]")
    p.add_argument("--qa-field", action="append", default=[], metavar="COL",
                   help="predictions column holding free-text yes/no answers (repeatable)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000; 0 skips CIs)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--confidence", type=float, default=0.95, help="CI level (default 0.95)")
    p.add_argument("--cluster", choices=("video", "prompt"), default="video",
                   help="resample videos (default) or whole prompts")
    p.add_argument("--exact-max-n", type=int, default=2_000,
                   help="exact per-resample SRCC up to this many videos, linearised above (default 2000)")
    p.add_argument("--krcc-exact-max-n", type=int, default=2_000,
                   help="exact per-resample KRCC up to this many videos, linearised above (default 2000)")
    p.add_argument("--allow-unmatched", action="store_true",
                   help="correlate the matched videos when some predictions have no human label (listed)")
    p.add_argument("--drop-missing", action="store_true",
                   help="leave out rows whose score is missing (NaN/error) instead of stopping; counted")
    p.add_argument("--compare", action="store_true",
                   help="test every pair of fields: paired bootstrap of SRCC/PLCC differences "
                        "(--bootstrap resamples; 1000 when it is 0), Williams, Steiger")
    p.add_argument("--show-breakdowns", action="store_true", help="print breakdown rows too (always in --out)")
    p.add_argument("--v2t", action="store_true",
                   help="also print LOVE's two V2T tables (instance and model level): per evaluator perception "
                        "SRCC, correspondence SRCC and QA accuracy, their ranks and the rank-sum overall rank")
    p.add_argument("--evaluator", action="append", default=[], metavar="NAME=PERC,CORR[,QA]",
                   help="--v2t: one evaluator's perception field, correspondence field and QA answer column "
                        "('-' for none), or a bare FIELD for both SRCCs (repeatable; default: every score "
                        "field as its own evaluator)")
    p.add_argument("--qa-predictions", type=Path, default=None,
                   help="--v2t: table of the evaluators' QA answers (video, question, answer columns) when they "
                        "are not in the predictions table")
    p.add_argument("--v2t-perception", default="perception", metavar="DIM",
                   help="--v2t: human dimension of the perception MOS (default: perception)")
    p.add_argument("--v2t-correspondence", default="correspondence", metavar="DIM",
                   help="--v2t: human dimension of the correspondence MOS (default: correspondence)")
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="tidy results (.csv/.tsv/.jsonl/.parquet with <stem>.meta.json, <stem>.models.* "
                        "beside it; or .json for everything)")
    p.set_defaults(func=run)


def _load_human(specs, args):
    import pandas as pd

    from ..errors import InputError
    from ..human.importers import guess_love_kind, load_human_labels, load_love_jsonl, read_table

    mos_tables, qa_tables = [], []
    for spec in specs:
        name, path = (spec.split("=", 1) if "=" in spec and not Path(spec).exists() else (None, spec))
        path = Path(path)
        if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
            head = read_table(path)
            if "conversations" in head.columns:
                kind = name or guess_love_kind(path)
                if kind is None and "mos" not in head.columns:
                    kind = "qa"
                if kind == "qa":
                    qa_tables.append(load_love_jsonl(path, kind="qa"))
                else:
                    mos_tables.append(load_love_jsonl(path, kind=kind or "mos"))
                continue
        mos_tables.append(load_human_labels(path, video=args.human_video_col, mos=args.human_mos_col,
                                            dimension=args.human_dimension_col, default_dimension=name))
    human = pd.concat(mos_tables, ignore_index=True) if mos_tables else None
    if human is not None:
        dup = human.duplicated(["video", "dimension"])
        if dup.any():
            i = int(dup.to_numpy().nonzero()[0][0])
            raise InputError(f"human labels: video {human['video'].iloc[i]!r} has two labels for dimension "
                             f"{human['dimension'].iloc[i]!r} across the --human files; name them NAME=PATH")
    qa = pd.concat(qa_tables, ignore_index=True) if qa_tables else None
    return human, qa


def _explain(res, preds, human) -> None:
    """Refuse a run where nothing matched; give every blank statistic its reason (``note``)."""
    from ..analysis import join_scores
    from ..analysis.blanks import explain_blanks
    from ..errors import InputError

    j = res.join
    if len(human) and j.n_predictions and not sum(j.matched.values()):
        raise InputError(
            f"none of the {j.n_predictions} prediction videos (e.g. {j.unmatched_predictions[0]!r}) matches "
            f"a human-labelled video (e.g. {j.unmatched_human[0]!r}): nothing to correlate. Videos are "
            "matched by path, then by their last folders and file name; check both files name the same videos"
        )
    t = res.table
    notes = [""] * len(t)
    if len(t) and len(human) and t["srcc"].isna().any():
        joined, _ = join_scores(preds, human, allow_unmatched=True)
        notes = explain_blanks(t, joined)
    res.table["note"] = notes


def run(args) -> int:
    """Compute the agreement table, write it, print the overall rows."""
    import itertools

    import pandas as pd

    from ..analysis.agreement import agreement, field_directions, score_fields
    from ..stats.significance import compare_metrics
    from ..errors import InputError
    from ..human.importers import load_pairs
    from ..io import read_table, sidecar, write_json, write_table
    from . import console, out, styled
    from ._common import check_output_file, frame_table

    if not args.human and args.qa is None:
        raise InputError("give human labels with --human PATH (and/or QA answers with --qa PATH)")
    if not 0 < args.confidence < 1:
        raise InputError(f"--confidence must be between 0 and 1, got {args.confidence}")
    if args.bootstrap < 0:
        raise InputError("--bootstrap must be >= 0")
    check_output_file(args.out, (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".pq"),
                      "-o/--out")
    preds = read_table(args.predictions)
    human, qa = _load_human(args.human, args)
    if args.qa is not None:
        from ..human.importers import load_love_jsonl

        t = read_table(args.qa)
        qa_new = load_love_jsonl(args.qa, kind="qa") if "conversations" in t.columns else t
        qa = qa_new if qa is None else pd.concat([qa, qa_new], ignore_index=True)
    if qa is not None and not args.qa_field:
        console.print(styled(("QA labels given but no --qa-field: QA accuracy skipped", "yellow")))
    if human is None:
        human = pd.DataFrame(columns=["video", "dimension", "mos"])
    both = set(args.higher_better) & set(args.lower_better)
    if both:
        raise InputError(f"field(s) {', '.join(sorted(both))} given as both --higher-better and --lower-better")
    # Directions: the flags, else the table's field metadata (.fields.json / Parquet), never a guess.
    directions = {f: "higher" for f in args.higher_better}
    directions.update({f: "lower" for f in args.lower_better})
    pairs = load_pairs(args.pairs) if args.pairs is not None else None
    levels = tuple(args.level) if args.level else ("instance", "model", "pair")
    by = () if args.no_breakdown else tuple(args.by or ("dimension",))
    if args.by and not args.no_breakdown:
        # The default breakdown is optional; one the user asked for must exist.
        known = set(preds.columns) | (set(human.columns) if human is not None else set())
        if qa is not None:
            known |= set(qa.columns)
        unknown = [b for b in args.by if b not in known]
        if unknown:
            raise InputError(f"--by {', '.join(map(repr, unknown))}: no such column in the predictions or labels; "
                             f"predictions have {', '.join(map(repr, map(str, preds.columns)))}")
    fields = args.field
    if fields is None:
        fields = [f for f in score_fields(preds) if f not in set(args.qa_field)]
    if human is not None and len(human) == 0:
        fields = []
    absent = [f for f in fields if f not in preds.columns]
    if absent:  # before asking for the direction of a column that is not there
        raise InputError(f"predictions have no column(s) {', '.join(map(repr, absent))}; score "
                         f"columns found: {', '.join(map(repr, score_fields(preds)))}")
    field_directions(preds, fields, directions)  # every direction known before any statistics
    res = agreement(
        preds, human, fields=fields, directions=directions, levels=levels, by=by, human_pairs=pairs,
        qa_human=qa, qa_fields=tuple(args.qa_field), n_resamples=args.bootstrap, seed=args.seed,
        confidence=args.confidence, cluster=None if args.cluster == "video" else "prompt",
        exact_max_n=args.exact_max_n, krcc_exact_max_n=args.krcc_exact_max_n,
        allow_unmatched=args.allow_unmatched, drop_missing=args.drop_missing,
    )
    _explain(res, preds, human)
    compare_rows = []
    skipped: list[str] = []
    if args.compare and len(fields) >= 2 and len(human):
        from ..analysis.agreement import join_scores

        joined, _ = join_scores(preds, human, allow_unmatched=True)
        for hdim, sub in joined.groupby("human_dimension", sort=True):
            for fa, fb in itertools.combinations(fields, 2):
                xa = pd.to_numeric(sub[fa], errors="coerce").to_numpy(dtype=float)
                xb = pd.to_numeric(sub[fb], errors="coerce").to_numpy(dtype=float)
                y = sub["mos"].to_numpy(dtype=float)
                ok = pd.notna(xa) & pd.notna(xb)
                if ok.sum() < 5:
                    skipped.append(f"{fa} vs {fb} ({hdim}: {int(ok.sum())} videos)")
                    continue
                sa = -1.0 if res.settings["directions"][fa] == "lower" else 1.0
                sb = -1.0 if res.settings["directions"][fb] == "lower" else 1.0
                cl = None
                if args.cluster == "prompt":
                    col = "prompt_id" if "prompt_id" in sub.columns else "prompt"
                    cl = sub.loc[ok, col].astype(str).to_numpy()
                for r in compare_metrics(y[ok], sa * xa[ok], sb * xb[ok], n_resamples=args.bootstrap or 1000,
                                         seed=args.seed, clusters=cl, confidence=args.confidence,
                                         exact_max_n=args.exact_max_n):
                    compare_rows.append({"field_a": fa, "field_b": fb, "human_dimension": hdim, **r})
    compare = pd.DataFrame(compare_rows)
    v2t = None
    if args.v2t:
        from ..analysis.v2t import long_table, v2t_tables

        qa_preds = read_table(args.qa_predictions) if args.qa_predictions is not None else None
        v2t, v2t_notes = v2t_tables(
            preds, human, args.evaluator or fields, qa_predictions=qa_preds, qa_human=qa,
            directions=directions, perception=args.v2t_perception,
            correspondence=args.v2t_correspondence, allow_unmatched=args.allow_unmatched,
            drop_missing=args.drop_missing)
        res.notes.extend(n for n in v2t_notes if n not in res.notes)
    if skipped:
        console.print(styled((f"--compare skipped {len(skipped)} pair(s) with fewer than 5 videos "
                              "scored by both fields:", "yellow"), f" {'; '.join(skipped[:5])}"))

    if args.out is not None:
        if args.out.suffix.lower() == ".json":
            doc = res.as_dict()
            doc["compare"] = compare
            if v2t is not None:
                doc["v2t"] = long_table(v2t)
            write_json(doc, args.out)
            console.print(f"wrote {args.out}")
        else:
            write_table(res.table, args.out)
            written = [str(args.out)]
            meta = sidecar(args.out, "meta", ".json")
            write_json({"join": res.join.as_dict(), "notes": res.notes, "settings": res.settings}, meta)
            written.append(str(meta))
            if len(res.model_means):
                mp = sidecar(args.out, "models")
                write_table(res.model_means, mp)
                written.append(str(mp))
            if len(compare):
                cp = sidecar(args.out, "compare")
                write_table(compare, cp)
                written.append(str(cp))
            if v2t is not None:
                vp = sidecar(args.out, "v2t")
                write_table(long_table(v2t), vp)
                written.append(str(vp))
            console.print("wrote " + ", ".join(written))

    j = res.join
    if len(human):
        how = ", ".join(f"{v} by {k}" for k, v in sorted(j.matched.items())) or "none"
        console.print(f"matched {sum(j.matched.values())} of {j.n_predictions} prediction videos to human labels "
                      f"({how}); {len(j.unmatched_human)} labelled videos had no prediction")
    if j.unmatched_predictions:
        console.print(styled((f"{len(j.unmatched_predictions)} prediction video(s) had no human "
                               "label", "yellow"), ", e.g. " + ", ".join(j.unmatched_predictions[:3])))
    for note in res.notes:
        console.print(f"note: {note}")
    t = res.table
    shown = t if args.show_breakdowns else t[t["breakdown"].isin(["all"])]

    def ci(row, k, interval=True):
        # The terminal shows intervals for the headline statistics only; --out has all.
        v, lo, hi = row[k], row.get(k + "_low"), row.get(k + "_high")
        if v != v:
            return ""
        if not interval or lo is None or lo != lo:
            return f"{v:.3f}"
        return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"

    view = pd.DataFrame({
        "field": shown["field"], "human": shown["human_dimension"], "level": shown["level"],
        "group": [g if b == "all" else f"{b}={g}" for b, g in zip(shown["breakdown"], shown["group"])],
        "n": shown["n"],
        "SRCC": [ci(r, "srcc") for _, r in shown.iterrows()],
        "KRCC": [ci(r, "krcc", False) for _, r in shown.iterrows()],
        "PLCC": [ci(r, "plcc", False) for _, r in shown.iterrows()],
        "PLCC fit": [ci(r, "plcc_fit") for _, r in shown.iterrows()],
        "RMSE fit": [ci(r, "rmse_fit", False) for _, r in shown.iterrows()],
        "pair acc": [ci(r, "pair_acc") for _, r in shown.iterrows()],
        "QA acc": [ci(r, "qa_acc") for _, r in shown.iterrows()],
        "note": shown["note"].fillna("").astype(str),
    })
    view = view.loc[:, [c for c in view.columns if c in ("field", "human", "level", "group", "n")
                        or (view[c] != "").any()]]
    out.print(frame_table(view, title=f"Agreement with people ({args.confidence:.0%} bootstrap CIs, "
                                      f"{args.bootstrap} resamples)", max_rows=200))
    if len(compare):
        cv = compare[["field_a", "field_b", "human_dimension", "statistic", "a", "b", "diff", "ci_low", "ci_high",
                      "p", "williams_p", "steiger_p"]]
        out.print(frame_table(cv, title="Paired comparisons (a better than b?)", floatfmt="{:.4f}"))
    if v2t is not None:
        from ..analysis.v2t import v2t_markdown

        for level, title in (("instance", "V2T instance-level leaderboard"),
                             ("model", "V2T model-level leaderboard")):
            out.print(f"\n## {title} (ranks: competition, overall: rank sum)\n")
            out.print(v2t_markdown(v2t[level], level))
    if not args.show_breakdowns and len(t) > len(shown):
        console.print(f"{len(t) - len(shown)} breakdown rows not shown (--show-breakdowns, or see --out)")
    return 0
