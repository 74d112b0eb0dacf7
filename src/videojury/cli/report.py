"""``videojury report``: the HTML and Markdown report of a benchmark."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    """Add the ``report`` sub-command."""
    p = sub.add_parser(
        "report", help="write the HTML/Markdown report of a 'videojury bench' output folder",
        description="Read the --out folder of 'videojury bench' and write one self-contained "
                    "HTML file (sortable leaderboard, models x dimensions heatmap, per-model "
                    "profiles, best and worst videos as frame strips; no network needed to view "
                    "it) and a Markdown version with its images beside it.")
    p.add_argument("bench_dir", type=Path, help="output folder of 'videojury bench'")
    p.add_argument("--html", type=Path, default=None,
                   help="HTML file to write (default: BENCH_DIR/report.html)")
    p.add_argument("--markdown", type=Path, default=None,
                   help="Markdown file to write (default: BENCH_DIR/report.md)")
    p.add_argument("--no-markdown", action="store_true", help="write the HTML only")
    p.add_argument("--title", default=None, help="report title (default: 'Benchmark: SUITE')")
    p.add_argument("--examples", type=int, default=3,
                   help="best and worst videos per model (default 3; 0: none)")
    p.add_argument("--no-thumbs", action="store_true",
                   help="list the best and worst videos without decoding frame strips")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..bench import load_result
    from ..report import write_report
    from . import console

    from ..errors import InputError
    from ._common import check_output_file

    if args.examples < 0:
        raise InputError(f"--examples must be >= 0 (0: none), got {args.examples}")
    check_output_file(args.html, (".html", ".htm"), "--html")
    if not args.no_markdown:
        check_output_file(args.markdown, (".md", ".markdown"), "--markdown")
    result = load_result(args.bench_dir)
    html = args.html or args.bench_dir / "report.html"
    md = None if args.no_markdown else (args.markdown or args.bench_dir / "report.md")
    paths = write_report(result, html, md, title=args.title, examples=args.examples,
                         thumbs=not args.no_thumbs)
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
