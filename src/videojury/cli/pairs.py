"""``videojury pairs``: pairwise preferences to Bradley-Terry scores per video and model."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    """Add the ``pairs`` sub-command."""
    p = sub.add_parser(
        "pairs",
        help="pairwise preferences -> Bradley-Terry scores and win rates per video and T2V model",
        description="Read comparisons (video_a, video_b, winner in a/b/tie, optional dimension and "
                    "model columns or a video->model mapping) and fit Bradley-Terry scores with "
                    "bootstrap CIs, per video and per model. See docs/agreement.md.",
    )
    p.add_argument("pairs", type=Path, help="comparisons table: .csv, .tsv, .jsonl, .json or .parquet")
    p.add_argument("-o", "--out", type=Path, default=None, help="scores table (.csv/.tsv/.jsonl/.json/.parquet)")
    p.add_argument("--video-a-col", default="video_a", help="first video column (default: video_a)")
    p.add_argument("--video-b-col", default="video_b", help="second video column (default: video_b)")
    p.add_argument("--winner-col", default="winner", help="winner column: a, b or tie (default: winner)")
    p.add_argument("--dimension-col", default="dimension", help="optional dimension column (default: dimension)")
    p.add_argument("--model-a-col", default="model_a", help="optional model column of video_a (default: model_a)")
    p.add_argument("--model-b-col", default="model_b", help="optional model column of video_b (default: model_b)")
    p.add_argument("--models", type=Path, default=None,
                   help="table with 'video' and 'model' columns mapping videos to T2V models "
                        "(e.g. a score table or a manifest)")
    p.add_argument("--ties", choices=("half", "davidson"), default="half",
                   help="ties as half wins (MM, default) or Davidson's tie model")
    p.add_argument("--prior", type=float, default=1.0,
                   help="virtual games per item against a score-0 reference (regularisation; default 1)")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of the comparisons (default 200; 0 skips)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--confidence", type=float, default=0.95, help="CI level (default 0.95)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Fit the scores, write them and print the model level (or the top videos)."""
    from ..errors import InputError
    from ..human.importers import load_pairs, read_table, require_columns, sidecar, write_json, write_table
    from ..human.pairs import pairwise_scores, video_model_mapping
    from . import console, out, styled
    from ._common import check_output_file, frame_table

    if not args.prior >= 0:
        raise InputError(f"--prior must be >= 0, got {args.prior}")
    if args.bootstrap < 0:
        raise InputError(f"--bootstrap must be >= 0 (0 skips the intervals), got {args.bootstrap}")
    if not 0 < args.confidence < 1:
        raise InputError(f"--confidence must be between 0 and 1, got {args.confidence}")
    check_output_file(args.out, (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".pq"), "-o/--out")
    mapping = None
    if args.models is not None:
        mt = read_table(args.models)
        require_columns(mt, ["video", "model"], what="video->model mapping")
        mapping = video_model_mapping(mt)
    pairs = load_pairs(args.pairs, video_a=args.video_a_col, video_b=args.video_b_col, winner=args.winner_col,
                       dimension=args.dimension_col, model_a=args.model_a_col, model_b=args.model_b_col,
                       video_models=mapping)
    res = pairwise_scores(pairs, ties=args.ties, prior=args.prior, n_resamples=args.bootstrap,
                          seed=args.seed, confidence=args.confidence)
    if args.out is not None:
        write_table(res.scores, args.out)
        meta = sidecar(args.out, "fit", ".json")
        write_json(res.settings, meta)
        console.print(f"wrote {args.out} and {meta}")
    n_ties = int((pairs["winner"] == "tie").sum())
    console.print(f"{len(pairs)} comparisons ({n_ties} ties) over "
                  f"{len(set(pairs['video_a']) | set(pairs['video_b']))} videos; ties: {args.ties}")
    for fit in res.settings["fits"]:
        if fit.get("graph_components", 1) > 1:
            console.print(styled((f"{fit['level']}/{fit['dimension']}: the comparison graph has "
                                  f"{fit['graph_components']} disconnected parts", "yellow"),
                                 "; scores across parts rest on the prior"))
        if fit.get("converged") is False:
            console.print(styled((f"{fit['level']}/{fit['dimension']}: fit did not converge", "yellow")))
        if fit.get("dropped_same_model"):
            console.print(f"{fit['level']}/{fit['dimension']}: {fit['dropped_same_model']} same-model comparisons "
                          "carry no information about models and were left out")
    cols = ["level", "dimension", "item", "score", "ci_low", "ci_high", "win_rate", "wins", "losses", "ties", "n", "rank"]
    sc = res.scores
    models = sc[sc["level"] == "model"]
    if len(models):
        out.print(frame_table(models[cols], title="Bradley-Terry scores per model (log-strength, higher is better)",
                              floatfmt="{:.3f}"))
    videos = sc[sc["level"] == "video"]
    if len(videos):
        out.print(frame_table(videos[cols], title="Per video (best first)", floatfmt="{:.3f}", max_rows=10))
    return 0
