"""How much each of t2v_metrics' protocol choices moves VQAScore, on the tiny weights.

    python benchmarks/parity/t2v_metrics/choices.py OUT

Builds the inputs of ``inputs.py`` under OUT (tiny seeded Qwen2.5-VL with
repetition penalty 1.05, three lossless clips, two prompts), scores each
clip file with ``vqascore:preset=t2v_metrics``, then puts back videojury's
default for one choice at a time and prints the change in log P(Yes):

* question: videojury's template instead of t2v_metrics' (same answer id);
* frames: the checkpoint's default frame indices (Qwen: 2 fps, at most 32)
  instead of qwen-vl-utils' 8 fps rule (sizes still the preset's);
* resize: videojury's OpenCV resize to the checkpoint's pixel budget (area,
  never upscaling) instead of the bicubic smart-resize with upscaling;
* temporal ids: the sampled frame rate passed as video metadata (videojury's
  default) instead of the processor's default;
* probability: the softmax of the raw logits instead of generate's processed
  scores (the repetition penalty left out);

and finally the default ``vqascore`` (every choice videojury's). Random tiny
weights: the figures say how far each choice can move a score, not how far
it moves a real model's.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import inputs  # noqa: E402
from _table import print_changes  # noqa: E402


def main(out: Path) -> None:
    import torch

    from videojury.data.items import Item
    from videojury.metrics import load_metric
    from videojury.metrics.vlm import t2v_preset as tp
    from videojury.metrics.vlm.prompts import T2V_METRICS_QWEN_TEMPLATE, VQASCORE_TEMPLATE, fill
    from videojury.models.lmm import VideoLMM
    from videojury.video import sample

    torch.set_num_threads(2)
    ckpt = inputs.build_checkpoint(out / "tiny_qwen2_5_vl")
    clips = inputs.write_clips(out / "clips")
    preset = load_metric(f"vqascore:model={ckpt},preset=t2v_metrics")
    plain = load_metric(f"vqascore:model={ckpt}")
    bb = preset.backbone()
    yes = tp.answer_id(bb.tokenizer)
    plain_policy = plain.frame_policy()
    print(f"default policy: {plain_policy.describe()}; preset: {preset.frame_policy().describe()}")

    def logp(frames, video, question, processed=True, meta=None):
        text = tp.prompt_text(bb.processor, fill(question, prompt=prompt))
        return float(tp.next_token_logprobs(bb, video, text, processed=processed,
                                            metadata=meta)[yes])

    rows: dict[str, list[float]] = {k: [] for k in
                                    ("question", "frames", "resize", "temporal", "probability",
                                     "all (default vqascore)")}
    base_lp = []
    for clip in clips:
        fr = sample(clip, preset.frame_policy())
        fr_plain = sample(clip, plain_policy)
        for prompt in inputs.PROMPTS:
            base = logp(fr, tp.file_video(fr.array), T2V_METRICS_QWEN_TEMPLATE)
            base_lp.append(base)
            rows["question"].append(logp(fr, tp.file_video(fr.array), VQASCORE_TEMPLATE) - base)
            # frames: the default indices, full size, then the preset's resize
            full = sample(clip, dataclasses.replace(plain_policy, resize=None))
            rows["frames"].append(logp(full, tp.file_video(full.array),
                                       T2V_METRICS_QWEN_TEMPLATE) - base)
            # resize: the preset's indices, videojury's resize
            resized = plain_policy.resize.apply(fr.array) if plain_policy.resize else fr.array
            vid = torch.from_numpy(np.ascontiguousarray(resized)).permute(0, 3, 1, 2).float()
            rows["resize"].append(logp(fr, vid, T2V_METRICS_QWEN_TEMPLATE) - base)
            rows["temporal"].append(logp(fr, tp.file_video(fr.array), T2V_METRICS_QWEN_TEMPLATE,
                                         meta=VideoLMM.metadata(fr)) - base)
            rows["probability"].append(logp(fr, tp.file_video(fr.array),
                                            T2V_METRICS_QWEN_TEMPLATE, processed=False) - base)
            p_plain = plain.score_batch([fr_plain], [Item(str(clip), prompt=prompt)])[0]
            rows["all (default vqascore)"].append(float(np.log(p_plain["vqascore"])) - base)
    print_changes(base_lp, rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
