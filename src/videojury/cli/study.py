"""``videojury study``: create a browser rating study, serve it, export its answers."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    """Add ``study`` with its ``create``, ``serve`` and ``export`` sub-commands."""
    p = sub.add_parser(
        "study",
        help="human rating studies in the browser (ACR or pairwise) -> input for mos / pairs",
        description="Collect ratings (ACR, 1-5 per dimension) or preferences (pairwise A/B/tie) from "
                    "people in a browser: create a study folder from a manifest, serve it on this "
                    "machine, export the answers for `videojury mos` or `videojury pairs`. "
                    "See docs/study.md.",
    )
    verbs = p.add_subparsers(dest="study_command", metavar="VERB")

    c = verbs.add_parser("create", help="make a study folder: schedule, raters.csv (rater, token), admin token",
                         description="Make a study folder from a manifest (video, prompt, prompt_id, model; "
                                     "optional 'golden' or 'golden_<dimension>' known answers).")
    c.add_argument("folder", type=Path, help="new study folder")
    c.add_argument("--manifest", type=Path, required=True, help="manifest: .csv, .jsonl or .parquet with 'video'")
    c.add_argument("--protocol", choices=("acr", "pairwise"), required=True,
                   help="acr: one video, 1-5 per dimension; pairwise: two videos of one prompt, A / B / tie")
    c.add_argument("--dimension", action="append", default=[], metavar="NAME",
                   help="a question to answer per item (repeatable; default: overall). Names with "
                        "'correspondence', 'alignment', 'prompt', ... show the prompt")
    c.add_argument("--raters", type=int, required=True, help="number of raters (tokens made)")
    c.add_argument("--golden", type=int, default=0, metavar="K", help="golden items per rater (default 0)")
    c.add_argument("--repeats", type=int, default=0, metavar="R", help="items shown twice per rater (default 0)")
    c.add_argument("--seed", type=int, default=0, help="seed of the schedule (default 0)")
    c.add_argument("--items-per-rater", type=int, default=None, metavar="M",
                   help="regular items per rater, shared out evenly (default: every rater sees all)")
    c.add_argument("--pairs-per-video", type=int, default=None, metavar="D",
                   help="pairwise: comparisons per video within a prompt (default: all pairs)")
    c.add_argument("--min-view", type=float, default=0.0, metavar="S",
                   help="seconds an item plays before answers are taken (default 0)")
    c.add_argument("--show-prompt", action="store_true", help="show the prompt for every dimension")
    c.add_argument("--golden-tolerance", type=float, default=1.0,
                   help="ACR: a golden answer within this many grades counts as right (default 1)")
    c.add_argument("--title", default=None, help="title shown to raters")
    c.set_defaults(func=run_create)

    s = verbs.add_parser("serve", help="serve the study to raters at http://HOST:PORT/r/<token>")
    s.add_argument("folder", type=Path, help="study folder")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; the app has no TLS)")
    s.add_argument("--port", type=int, default=8750, help="port (default 8750; 0 picks a free one)")
    s.add_argument("--min-view", type=float, default=None, metavar="S",
                   help="override the study's minimum viewing time in seconds")
    s.set_defaults(func=run_serve)

    e = verbs.add_parser("export", help="answers -> the input of `videojury mos` (ACR) or `pairs` (pairwise)")
    e.add_argument("folder", type=Path, help="study folder")
    e.add_argument("-o", "--out", type=Path, required=True,
                   help="ratings/pairs table (.csv/.tsv/.jsonl/.parquet); <stem>.screening.* and "
                        "<stem>.raters.* are written beside it")
    e.set_defaults(func=run_export)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_create(args) -> int:
    from ..study import create_study
    from . import console

    res = create_study(args.folder, args.manifest, protocol=args.protocol, dimensions=args.dimension,
                       raters=args.raters, golden=args.golden, repeats=args.repeats, seed=args.seed,
                       items_per_rater=args.items_per_rater, pairs_per_video=args.pairs_per_video,
                       min_view=args.min_view, show_prompt=args.show_prompt,
                       golden_tolerance=args.golden_tolerance, title=args.title)
    n = res["items_per_rater"]
    console.print(f"study in {res['folder']}: {res['videos']} videos, {res['regular_items']} "
                  f"{'pairs' if args.protocol == 'pairwise' else 'items'}, {res['golden_items']} golden; "
                  f"{res['raters']} raters with {min(n)}-{max(n)} presentations each")
    console.print(f"rater tokens: {Path(res['folder']) / 'raters.csv'}; admin token: "
                  f"{Path(res['folder']) / 'admin_token.txt'}. Next: videojury study serve {res['folder']}")
    return 0


def run_serve(args) -> int:
    from ..study import serve_study
    from . import console, styled

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        console.print(styled((f"listening on {args.host}", "yellow"),
                             ": other machines can reach the study; the app speaks plain HTTP, "
                             "so put it behind a TLS proxy for raters outside this network"))

    def ready(base: str, admin: str) -> None:
        console.print(f"serving {args.folder} at {base}/r/<token> (tokens in {args.folder / 'raters.csv'})")
        console.print(f"admin page: {admin}")
        console.print("Ctrl-C stops; answers are saved as they come")

    serve_study(args.folder, host=args.host, port=args.port, min_view=args.min_view, on_ready=ready)
    return 0


def run_export(args) -> int:
    from ..study import export_study
    from . import console

    res = export_study(args.folder, args.out)
    verb = "videojury pairs" if res["protocol"] == "pairwise" else "videojury mos"
    console.print(f"wrote {res['n_ratings']} answers to {res['ratings']} (input for `{verb}`), "
                  f"{res['n_screening']} golden/repeat answers to {res['screening']}, "
                  f"per-rater checks to {res['raters']}")
    return 0
