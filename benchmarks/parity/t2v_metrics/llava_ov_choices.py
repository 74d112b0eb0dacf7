"""How much each of t2v_metrics' LLaVA-OneVision choices moves log P(Yes), on the tiny checkpoint.

    python benchmarks/parity/t2v_metrics/llava_ov_choices.py OUT

Builds the tiny lmms-lab checkpoint of ``llava_ov_inputs.py`` in OUT, converts it,
and for each clip and prompt of ``inputs.py`` prints the largest change of
log P(Yes) from the preset's score when one choice is made differently:

* ``full_vocab``: softmax over every logit row (478) instead of the tokenizer's 465
  ids LLaVA-NeXT resizes the model to;
* ``fp16_pixels``: the pixel values rounded to float16 first (t2v_metrics' ``.half()``;
  on a GPU the whole model also runs in float16, not measured here);
* ``prompt_penalty``: the native ``generate`` with the prompt's ids, so the generation
  config's ``repetition_penalty=1.05`` acts on them (LLaVA-NeXT passes only embeddings);
* ``default``: videojury's default ``vqascore`` (its question, frames and processor).

Random weights: the sizes say which choices matter, not how much on a trained model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import inputs  # noqa: E402
import llava_ov_inputs  # noqa: E402


def main(out: Path) -> None:
    import torch

    from videojury.data.items import Item
    from videojury.metrics import load_metric
    from videojury.metrics.vlm import t2v_preset_llava_ov as ov
    from videojury.models.llava_ov_convert import convert_lmms_llava_ov
    from videojury.video import sample

    torch.set_num_threads(1)
    lmms, hub = llava_ov_inputs.build_lmms_checkpoint(out)
    siglip = next((hub / f"models--{llava_ov_inputs.SIGLIP_ID.replace('/', '--')}"
                   / "snapshots").iterdir())
    native = convert_lmms_llava_ov(lmms, out / "native", vision_config=siglip)
    clips = inputs.write_clips(out / "clips")
    metric = load_metric(f"vqascore:model={native},preset=t2v_metrics")
    plain = load_metric(f"vqascore:model={native}")
    bb = metric.backbone()
    tok, cfg = bb.tokenizer, bb.model.config
    yes, vocab = ov.answer_id(tok), ov.text_vocab(tok, cfg)
    rows = int(bb.model.lm_head.weight.shape[0])
    worst: dict[str, float] = {}
    for clip in clips:
        frames = sample(clip, metric.frame_policy())
        pv = ov.pixels(frames.array)
        for prompt in inputs.PROMPTS:
            ids = ov.input_ids(tok, cfg, ov.QUESTION.format(prompt), len(pv))
            base = ov.next_token_logprobs(bb, pv, ids, vocab)[yes]
            alt = {"full_vocab": ov.next_token_logprobs(bb, pv, ids, rows)[yes],
                   "fp16_pixels": ov.next_token_logprobs(bb, pv.half().float(), ids, vocab)[yes]}
            x = torch.tensor([ids])
            with torch.inference_mode():
                g = bb.model.generate(input_ids=x, attention_mask=torch.ones_like(x),
                                      pixel_values_videos=pv[None], max_new_tokens=1,
                                      do_sample=False, output_scores=True,
                                      return_dict_in_generate=True)
            alt["prompt_penalty"] = float(torch.log_softmax(g.scores[0][0][:vocab].double(),
                                                            -1)[yes])
            pf = sample(clip, plain.frame_policy())
            p = plain.score_batch([pf], [Item(str(clip), prompt=prompt)])[0]["vqascore"]
            alt["default"] = float(np.log(p))
            for k, v in alt.items():
                worst[k] = max(worst.get(k, 0.0), abs(float(v) - float(base)))
            print(clip.stem, prompt, f"log P = {base:.6f}",
                  {k: f"{float(v) - float(base):+.2e}" for k, v in alt.items()}, flush=True)
    print("largest |change of log P(Yes)|:", {k: f"{v:.2e}" for k, v in worst.items()})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
