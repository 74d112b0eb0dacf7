"""``videojury bench``: benchmark T2V models on a prompt suite."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from ._common import MetricAppend, add_store_args, frame_table, progress_bar, store_arg


def register(sub) -> None:
    """Add the ``bench`` sub-command."""
    p = sub.add_parser(
        "bench", help="benchmark T2V models on a prompt suite (scores, leaderboard, report)",
        description="Score every model's videos for a prompt suite and rank the models. VIDEOS "
                    "is a folder laid out as <root>/<model>/<prompt_id>[-<k>].mp4 or a manifest "
                    "with video, model and prompt_id columns (plus question/answer for human "
                    "answers). Missing and unexpected files are reported before scoring; results "
                    "go to the store, so a rerun (or a run after a crash) computes only what is "
                    "missing. See docs/bench.md.")
    p.add_argument("suite", help="suite file (CSV/JSONL/JSON; VBench_full_info.json; a prompt "
                                 "list .txt) or a built-in suite name such as 'demo'")
    p.add_argument("videos", type=Path, help="videos folder or manifest")
    p.add_argument("-m", "--metric", action=MetricAppend, default=None,
                   metavar="NAME[:OPT=VAL,..]",
                   help="metric to compute (repeatable, or names joined by commas; default: "
                        "every metric that needs no extra and no text)")
    p.add_argument("--dimension", action="append", default=None, metavar="NAME",
                   help="VBench's protocol: evaluate this VBench dimension on its own prompts' "
                        "videos only and write OUT/vbench/<model>_eval_results.json "
                        "(repeatable; default with VBench_full_info.json and no --metric: "
                        "every available dimension). See docs/vbench.md")
    p.add_argument("--vbench-results", action="append", default=None, metavar="PATH",
                   help="a VBench <model>_eval_results.json (or a folder of them) to put in the "
                        "leaderboard next to this run's models (repeatable)")
    p.add_argument("--suite-format", default="auto", choices=["auto", "videojury", "vbench",
                                                               "love"],
                   help="how to read SUITE (default: guess from the file)")
    p.add_argument("-o", "--out", type=Path, default=Path("bench-out"),
                   help="folder for the tables, leaderboard and report (default: bench-out)")
    add_store_args(p)
    p.add_argument("--report", action="store_true",
                   help="also write report.html (self-contained) and report.md into --out")
    p.add_argument("--examples", type=int, default=3,
                   help="best and worst videos shown per model in the report (default 3)")
    p.add_argument("--strict", action="store_true",
                   help="stop (exit 2) when any video is missing or unexpected, before scoring")
    p.add_argument("--check", action="store_true",
                   help="only match the videos to the suite and report problems; score nothing")
    p.add_argument("--qa-field", default=None,
                   help="field of a QA metric holding its yes-probability (default: guessed)")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap replicates over prompts for rank intervals (default 1000; 0: "
                        "none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="rank interval level (default 0.95)")
    p.add_argument("--retry-errors", action="store_true",
                   help="recompute videos whose stored result is an error")
    p.add_argument("--quiet", action="store_true", help="no leaderboard on the terminal")
    p.set_defaults(func=run)


def default_metrics() -> list[str]:
    """Metrics that run with the core install and read no text (what --metric defaults to)."""
    from ..metrics.base import list_metrics, metric_class

    out = []
    for name in list_metrics():
        cls = metric_class(name)
        if cls.extra is None and not cls.needs_prompt and not cls.needs_question:
            out.append(name)
    return out


def run(args) -> int:
    from ..bench import check_videos, run_bench
    from ..data.suites import load_suite
    from ..errors import InputError
    from ..run.store import Store
    from . import console, out, styled

    # Run options are checked before the suite and videos are read, let alone scored.
    from ._common import check_output_dir

    if args.bootstrap < 0:
        raise InputError(f"--bootstrap must be 0 (no rank intervals) or more, got {args.bootstrap}")
    if not args.check:
        check_output_dir(args.out, "--out")
    suite = load_suite(args.suite, args.suite_format)
    check = check_videos(suite, args.videos)
    problems = check.problems()
    for msg in problems:
        console.print(styled(("warning:", "yellow"), f" {msg}"), soft_wrap=True)
    console.print(check.summary())
    if args.check:
        return 1 if problems else 0
    if problems and args.strict:
        raise InputError(f"{len(problems)} problem(s) with the videos (see the warnings above); "
                         "fix them or run without --strict to score what is there")
    vbench = bool(args.dimension or args.vbench_results) or (
        suite.name == "vbench" and not args.metric)
    if vbench and args.metric:
        raise InputError("--metric and --dimension/--vbench-results do not go together: VBench's "
                         "protocol picks each dimension's metric itself; drop --metric")
    if vbench:
        return _run_vbench(args, suite, check)
    metrics = args.metric or default_metrics()
    if not args.metric:
        console.print(f"metrics: {', '.join(metrics)} (pass --metric to choose)")
    store_path = store_arg(args)
    with Store(store_path) as store, ExitStack() as stack:
        on_plan, progress = _scoring_display(stack, store_path)
        result = run_bench(check, metrics, store, qa_field=args.qa_field,
                           bootstrap=args.bootstrap, seed=args.seed, confidence=args.confidence,
                           retry_errors=args.retry_errors, on_plan=on_plan, progress=progress)
    if result.stats is not None:
        console.print(result.stats.summary())
    paths = _write_outputs(args, result)
    if not args.quiet:
        board = result.leaderboard
        cols = ["overall_rank", "model"] + [s.column for s in board.attrs["metrics"]] + [
            "rank_sum"]
        shown = board[cols].rename(columns={"overall_rank": "#"})
        if result.intervals is not None:
            iv = result.intervals.set_index("model")
            shown["rank interval"] = [f"{iv.loc[m, 'rank_lo']}-{iv.loc[m, 'rank_hi']}"
                                      for m in shown["model"]]
        out.print(frame_table(shown, title=f"Leaderboard ({suite.name})"))
    console.print(f"wrote {len(paths)} files to {args.out}"
                  + (f"; report: {paths['html']}" if "html" in paths else ""))
    if result.stats is not None and result.stats.load_errors:
        for label, msg in result.stats.load_errors.items():
            console.print(styled(("error:", "bold red"), f" metric {label} could not be loaded: "
                                 f"{msg}. Nothing was stored for it; fix this and run again."))
        return 2
    if result.n_failed:
        console.print(styled((f"{result.n_failed} of {len(result.scores)} videos had errors",
                              "yellow"), f" (see the 'error' column of {args.out / 'scores.csv'})"))
        return 1
    return 0


def _run_vbench(args, suite, check) -> int:
    """``bench`` with VBench's protocol (``--dimension``; see bench/vbench.py)."""
    from ..bench.vbench import run_vbench, select_dimensions
    from ..run.store import Store
    from . import console, out, styled

    dims, custom, _ = select_dimensions(check, args.dimension)  # checked before the store opens
    console.print(f"VBench protocol ({'custom input' if custom else 'standard'}): "
                  f"{', '.join(dims)}")
    store_path = store_arg(args)
    with Store(store_path) as store, ExitStack() as stack:
        on_plan, progress = _scoring_display(stack, store_path)
        result = run_vbench(check, args.dimension, store, published=args.vbench_results or (),
                            retry_errors=args.retry_errors, on_plan=on_plan, progress=progress)
    if result.stats is not None:
        console.print(result.stats.summary())
    for msg in result.problems[len(check.problems()):]:
        console.print(styled(("note:", "yellow"), f" {msg}"), soft_wrap=True)
    paths = _write_outputs(args, result)
    if not args.quiet:
        board = result.leaderboard
        cols = ["overall_rank", "model"] + list(board.attrs.get("shown", []))
        out.print(frame_table(board[cols].rename(columns={"overall_rank": "#"}),
                              title=f"VBench ({suite.name})"))
    console.print(f"wrote {len(paths)} files to {args.out} (VBench results: "
                  f"{args.out / 'vbench'})")
    if result.stats is not None and result.stats.load_errors:
        for label, msg in result.stats.load_errors.items():
            console.print(styled(("error:", "bold red"), f" metric {label} could not be loaded: "
                                 f"{msg}. Nothing was stored for it; fix this and run again."))
        return 2
    if result.n_failed:
        console.print(styled((f"{result.n_failed} of {len(result.scores)} videos had errors",
                              "yellow"), f" (see the 'error' column of {args.out / 'scores.csv'})"))
        return 1
    return 0


def _scoring_display(stack: ExitStack, store_path):
    """``on_plan`` and ``progress`` callbacks for a bench run: the cached/pending line, then
    a progress bar (opened once the number of results to compute is known). Load-failure
    warnings are silenced inside ``stack``: the caller reports them in its summary."""
    import warnings

    from ..api import MetricLoadWarning
    from . import console

    bar: dict = {}

    def on_plan(total: int, pending: int) -> None:
        console.print(f"{total} results: {total - pending} cached, {pending} to compute"
                      + (f" (store: {store_path})" if store_path else " (no store)"))
        bar["advance"] = stack.enter_context(progress_bar(pending, "scoring"))

    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore", MetricLoadWarning)
    return on_plan, lambda n: bar["advance"](n)


def _write_outputs(args, result) -> dict:
    """The bench folder's files: the result's tables, ``leaderboard.md`` and, with
    ``--report``, the HTML and Markdown reports; returns what was written."""
    from ..report.leaderboard import write_markdown

    paths = result.write(args.out)
    paths["leaderboard_md"] = write_markdown(result.leaderboard, args.out / "leaderboard.md",
                                             result.intervals)
    if args.report:
        from ..report import write_report

        paths.update(write_report(result, args.out / "report.html", args.out / "report.md",
                                  examples=args.examples))
    return paths
