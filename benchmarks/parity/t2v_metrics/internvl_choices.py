"""How much each of t2v_metrics' InternVL protocol choices moves log P(Yes).

    python benchmarks/parity/t2v_metrics/internvl_choices.py OUT

On the tiny seeded InternVL3 of the parity check (converted to the native class) and
the clips and prompts of ``inputs.py``: the preset's log P(Yes), then with one choice
put back to what the default ``vqascore`` does on InternVL (8 frames by the same rule;
videojury's OpenCV resize to 448 x 448; the default question), and the default
``vqascore`` itself (the processor's own pixels and prompt layout). Prints a markdown
table (random weights: how far a choice can move a score, not how far it moves a
trained model's).
"""

from __future__ import annotations

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
    from videojury.metrics.vlm import t2v_preset_internvl as P
    from videojury.metrics.vlm.prompts import VQASCORE_TEMPLATE, fill
    from videojury.models.internvl_chat import build_tiny_chat, convert_folder
    from videojury.models.love import IMAGENET_MEAN, IMAGENET_STD
    from videojury.video import frames_from_array
    from videojury.video.sampling import resize_frame

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    ck = convert_folder(build_tiny_chat(out / "original", seed=0), out / "native")
    preset = load_metric(f"vqascore:model={ck},preset=t2v_metrics")
    default = load_metric(f"vqascore:model={ck}")
    bb = preset.backbone()
    _, system = P.template_of(bb.model.config)
    n_tok = P.num_image_token(bb.model.config)
    yes = int(bb.tokenizer.encode(P.ANSWER)[0])
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def cv_pixels(array):
        t = torch.from_numpy(np.stack([resize_frame(f, 448, 448) for f in array]))
        t = t.permute(0, 3, 1, 2)
        return (t.float() / 255 - mean) / std

    def logp(i, prompt, frames=16, resize="pil", question="t2v"):
        arr = inputs.clip_frames(i)
        from videojury.video import FramePolicy

        f = frames_from_array(arr, inputs.CLIPS[i][3], FramePolicy.love(frames))
        pv = P.pixels(f.array) if resize == "pil" else cv_pixels(f.array)
        text = P.query(system, prompt, len(f.array), n_tok)
        if question != "t2v":
            text = text.replace(P.QUESTION.format(prompt),
                                fill(VQASCORE_TEMPLATE, prompt=prompt))
        return float(np.log(P.yes_probability(bb, pv, text, yes)))

    rows = {"question": dict(question="default"), "frames (16 -> 8)": dict(frames=8),
            "resize (PIL bicubic -> OpenCV)": dict(resize="cv")}
    base, changes = [], {k: [] for k in [*rows, "all (default vqascore)"]}
    for i in range(len(inputs.CLIPS)):
        for p in inputs.PROMPTS:
            b = logp(i, p)
            base.append(b)
            for name, kw in rows.items():
                changes[name].append(logp(i, p, **kw) - b)
            f = frames_from_array(inputs.clip_frames(i), inputs.CLIPS[i][3],
                                  default.frame_policy())
            d = default.score_batch([f], [Item("<memory>", prompt=p)])[0]["vqascore"]
            changes["all (default vqascore)"].append(float(np.log(d)) - b)
    print_changes(base, changes)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
