"""``videojury train CONFIG``: fine-tune a video LMM into an evaluator (LOVE-style)."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "train", help="train an LMM evaluator (LoRA + regression heads) or fine-tune a VQA network on MOS",
        description="Fine-tune a video chat model from the checkpoint table on human scores: "
                    "LoRA on the language model, one MLP head per dimension on the hidden "
                    "state before the answer's level word, optional projector and QA stages. "
                    "With a vqa: section it fine-tunes FAST-VQA, FasterVQA or DOVER from its "
                    "official checkpoint instead. "
                    "The output folder scores new videos with --metric trained:DIR. "
                    "Several GPUs: accelerate launch --num_processes N -m videojury train "
                    "CONFIG. See docs/training.md.")
    p.add_argument("config", type=Path, help="YAML or JSON training config")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in output_dir (same config)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set train.lr=5e-5 (repeatable)")
    p.add_argument("--output-dir", default=None, help="override output_dir")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop each stage after this many optimizer steps (smoke tests)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import require
    from ..train.config import load_config
    from . import console, out

    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    if args.max_steps is not None:
        overrides.append(f"train.max_steps={args.max_steps}")
    cfg = load_config(args.config, overrides)
    require("torch", "models", "videojury train")
    from ..train import train

    log = (lambda msg: None) if args.quiet else (lambda msg: console.print(msg))
    res = train(cfg, resume=args.resume, log=log)
    if not res.main_process:
        return 0  # under accelerate launch / torchrun, one process reports
    best = res.best or {}
    parts = [f"{k} {best[k]:.4f}" for k in ("srcc", "plcc", "krcc", "qa_acc")
             if isinstance(best.get(k), float)]
    out.print(f"evaluator: {res.evaluator_dir}" + (f" ({', '.join(parts)} at epoch "
                                                   f"{best.get('epoch')})" if parts else ""))
    if res.baseline:
        out.print(f"before training: SRCC {res.baseline.get('srcc', float('nan')):.4f}")
    out.print(f"{res.global_step} optimizer steps in {res.seconds:.1f}s "
              f"({res.seconds_per_step:.3f}s per step)")
    out.print(f"use it: videojury score VIDEOS --metric trained:{res.evaluator_dir}")
    return 0
