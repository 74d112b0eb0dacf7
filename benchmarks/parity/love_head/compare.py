"""LOVE's -4 head placement: ``head.position: love_minus4`` against LOVE's own readout.

LOVE's ``InternVLChatModel.forward`` (model/internvl_chat_st2/modeling_internvl_chat.py,
IntMeGroup/LOVE at 919fe92, lines 315-320) takes ``outputs.hidden_states[-1]``,
indexes ``[:, -4, :]``, replaces NaN/inf by ``nan_to_num(nan=0, posinf=1e9,
neginf=-1e9)`` and feeds ``mlpscore``. :func:`love_readout` is those tensor ops,
applied to the output of the same tiny random Qwen2.5-VL
(``videojury.models.tiny``) on each row alone (batch size 1, no padding: the
setting where LOVE's index is right). Ours is :class:`EvaluatorModel` with
``head_position="love_minus4"`` on padded batches. Also printed: LOVE's literal
index on a right-padded batch (what LOVE's batches of 4 with
``padding_side='right'`` do when rows differ in length), and the -4 token
with a level word appended (a different suffix).

    python benchmarks/parity/love_head/compare.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def love_readout(hidden_states_last, mlpscore):
    """LOVE's lines 315-320: ``[:, -4, :]``, nan_to_num, the score head."""
    import torch

    x = hidden_states_last[:, -4, :]
    if torch.isnan(x).any():
        x = torch.nan_to_num(x, nan=0.0, posinf=1e9, neginf=-1e9)
    return mlpscore(x)


def run(tiny: Path, video: Path) -> dict[str, float]:
    """The figures of the table in README.md (one CPU thread, restored after)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(tiny, video)
    finally:
        torch.set_num_threads(threads)


def _run(tiny: Path, video: Path) -> dict[str, float]:
    import torch

    from videojury.models.checkpoints import resolve_checkpoint
    from videojury.models.loading import load_backbone
    from videojury.train.config import TargetConfig
    from videojury.train.data import FrameCache, frame_policy
    from videojury.train.model import PromptEncoder, build_evaluator, collate, target_prompts

    bb = load_backbone(resolve_checkpoint(str(tiny)), "cpu", "float32", False, shared=False)
    targets = target_prompts([TargetConfig(name="c", dimension="correspondence")])
    torch.manual_seed(0)
    ev = build_evaluator(bb, targets, lora_names=[], r=0, alpha=1, dropout=0.0,
                         head_position="love_minus4").eval()
    enc = PromptEncoder(bb, targets)
    fr = FrameCache(frame_policy(4, (56, 56)))(str(video))
    prompts = ["a", "a red car on the road " * 2, "a cat running " * 5]
    rows = [enc.encode(fr, b, b) for b in (enc.mos_texts(0, p, None, False)[0] for p in prompts)]
    head = ev.heads["c"]
    out: dict[str, float] = {}
    with torch.no_grad():
        ref_h, ref_s = [], []
        for e in rows:
            hs = ev.hf(**e.inputs, use_cache=False, output_hidden_states=True).hidden_states[-1]
            ref_h.append(hs[0, -4])
            ref_s.append(love_readout(hs, head)[0, 0])
        ref_h, ref_s = torch.stack(ref_h), torch.stack(ref_s)
        pad = enc.slot_id if enc.tokenizer.pad_token_id is None else enc.tokenizer.pad_token_id
        for side in ("left", "right"):
            b = collate(rows, int(pad), side)
            _, h = ev.hidden_at(b["inputs"], b["anchors"], both=True)
            s = ev(b["inputs"], b["anchors"])["preds"][:, 0]
            out[f"ours_{side}_hidden_max_abs"] = float((h - ref_h).abs().max())
            out[f"ours_{side}_score_max_abs"] = float((s - ref_s).abs().max())
            hs = ev.hf(**b["inputs"], use_cache=False, output_hidden_states=True).hidden_states[-1]
            lit = love_readout(hs, head)[:, 0]
            out[f"love_literal_{side}_score_max_abs"] = float((lit - ref_s).abs().max())
        # a different suffix: the level word appended moves LOVE's -4 to another token
        b0, full = enc.mos_texts(0, prompts[0], 0.7, True)
        e_full = enc.encode(fr, b0, full)
        hs = ev.hf(**e_full.inputs, use_cache=False, output_hidden_states=True).hidden_states[-1]
        out["suffix_changed_score_abs"] = float((love_readout(hs, head)[0, 0] - ref_s[0]).abs())
        out["lengths"] = [int(e.inputs["input_ids"].shape[1]) for e in rows]
    return out


def main() -> int:
    from videojury.data.synthetic import ClipSpec, make_clip
    from videojury.models.tiny import build_tiny
    from videojury.video import write_video

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tiny = build_tiny("qwen2_5_vl", tmp / "tiny")
        spec = ClipSpec(width=56, height=56, frames=4, fps=8.0)
        write_video(tmp / "v.mkv", make_clip(0, spec), fps=spec.fps, codec="ffv1", crf=None)
        res = run(tiny, tmp / "v.mkv")
    for k, v in res.items():
        print(f"{k}: {v if isinstance(v, list) else f'{v:.3g}'}")
    return 0 if max(res["ours_left_score_max_abs"], res["ours_right_score_max_abs"]) < 1e-4 \
        else 1


if __name__ == "__main__":
    sys.exit(main())
