"""videoscore against VideoScore's own code: Mantis' Idefics2ForSequenceClassification.

The reference side runs the steps of VideoScore's ``examples/run_videoscore.py``
(frames read with PyAV at ``arange(0, N, N / MAX_NUM_FRAMES)``, the regression
prompt plus one "<image> " per frame, the processor, the model's pooled
logits) with the model class from Mantis' ``mantis/models/idefics2/
modeling_idefics2.py`` (give the file with ``--mantis``; Mantis is not a
dependency). That file was written for transformers 4.40; under
transformers 5 the harness fills three gaps and changes nothing else:
``transformers.modeling_attn_mask_utils._prepare_4d_attention_mask`` and the
docstring decorators it imports are supplied, its output dataclass takes
the renamed ``cache`` field, and ``tie_weights`` accepts the new keyword
(the checkpoint does not tie weights). The checkpoint is made by Mantis'
class itself (seeded random weights, ``save_pretrained``), so the layout
is the one VideoScore's released files have (its state_dict keys); the videojury side is
``load_metric("videoscore", model=FOLDER)``.

    python benchmarks/parity/videoscore/vs1_parity.py --mantis PATH/modeling_idefics2.py
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))


def load_mantis(path: str):
    import dataclasses
    from typing import Any, Optional

    import torch
    import transformers.utils as tu
    from transformers.utils import ModelOutput

    def prep4d(mask, dtype, tgt_len=None):
        b, s = mask.shape
        t = tgt_len if tgt_len is not None else s
        inv = 1.0 - mask[:, None, None, :].expand(b, 1, t, s).to(dtype)
        return inv.masked_fill(inv.bool(), torch.finfo(dtype).min)

    mod = types.ModuleType("transformers.modeling_attn_mask_utils")
    mod._prepare_4d_attention_mask = prep4d
    sys.modules.setdefault("transformers.modeling_attn_mask_utils", mod)
    for name in ("add_start_docstrings", "add_start_docstrings_to_model_forward",
                 "replace_return_docstrings"):
        if not hasattr(tu, name):
            setattr(tu, name, lambda *a, **k: (lambda f: f))
    for name in ("is_flash_attn_2_available", "is_flash_attn_greater_or_equal_2_10"):
        if not hasattr(tu, name):
            setattr(tu, name, lambda: False)
    spec = importlib.util.spec_from_file_location("mantis_idefics2", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)

    @dataclasses.dataclass
    class Out(ModelOutput):
        last_hidden_state: Any = None
        cache: Optional[Any] = None
        hidden_states: Optional[Any] = None
        attentions: Optional[Any] = None
        image_hidden_states: Optional[Any] = None

        @property
        def past_key_values(self):
            return self.cache

    m.Idefics2BaseModelOutputWithPast = Out
    m.Idefics2ForSequenceClassification.tie_weights = lambda self, *a, **k: None
    return m


def reference(model, proc, video: Path, prompt: str, max_frames: int) -> list[float]:
    import av
    import torch
    from PIL import Image

    from videojury.metrics.vlm.videoscore import VS1_TEMPLATE

    with av.open(str(video)) as c:
        total = c.streams.video[0].frames
        idx = (np.arange(0, total, total / max_frames).astype(int) if total > max_frames
               else np.arange(total))
        frames = [f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0))
                  if i in set(idx.tolist())]
    images = [Image.fromarray(x) for x in frames]
    text = VS1_TEMPLATE.replace("{text_prompt}", prompt)
    text += "<image> " * (len(images) - text.count("<image>"))
    inputs = proc(text=text, images=images, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs, use_cache=False).logits
    return [float(v) for v in logits[0]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mantis", required=True, help="Mantis' mantis/models/idefics2/"
                                                     "modeling_idefics2.py")
    args = ap.parse_args()
    import json

    import torch
    from safetensors.torch import save_file

    from tests._vs1_tiny import tiny_vs1_config_and_processor
    from tests._vs2_tiny import tiny_video
    from videojury.data.items import Item
    from videojury.metrics.base import load_metric
    from videojury.video.decode import sample

    torch.set_num_threads(1)
    M = load_mantis(args.mantis)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = [tiny_video(tmp / "a.mp4", frames=20), tiny_video(tmp / "b.mp4", frames=60,
                                                                     h=64, w=48, fps=12),
                  tiny_video(tmp / "c.mp4", frames=7, h=40, w=90, fps=6)]
        for pad, seed in (("<end_of_utterance>", 0), ("<unk>", 1)):
            cfg, proc = tiny_vs1_config_and_processor()
            cfg.pad_token_id = proc.tokenizer.convert_tokens_to_ids(pad)
            torch.manual_seed(seed)
            ref = M.Idefics2ForSequenceClassification(cfg)
            for prm in ref.parameters():
                torch.nn.init.normal_(prm, std=0.2)
            ref.eval()
            folder = tmp / f"vs1_{seed}"
            # the files save_pretrained writes (its v5 tied-key bookkeeping trips on
            # the class's list-style _tied_weights_keys, so written here directly)
            folder.mkdir()
            save_file({k: t.contiguous() for k, t in ref.state_dict().items()},
                      str(folder / "model.safetensors"))
            conf = cfg.to_dict()
            conf.update(architectures=["Idefics2ForSequenceClassification"],
                        pad_token_id=cfg.pad_token_id)
            (folder / "config.json").write_text(json.dumps(conf), encoding="utf-8")
            proc.save_pretrained(folder)
            for v in videos:
                for max_frames in (16, 48):
                    want = reference(ref, proc, v, "a red car on the road", max_frames)
                    met = load_metric("videoscore", model=str(folder), max_frames=max_frames)
                    fr = sample(v, met.frame_policy())
                    got = list(met.score_batch([fr], [Item(video=str(v),
                                                           prompt="a red car on the road")])[0]
                               .values())
                    d = float(np.max(np.abs(np.asarray(got) - np.asarray(want))))
                    worst = max(worst, d)
                    print(f"pad={pad} {v.name} max_frames={max_frames} ({len(fr)} frames): "
                          f"max|d|={d:.2e}  ours {np.round(got, 4).tolist()}")
    print(f"worst max abs difference {worst:.3e}")


if __name__ == "__main__":
    main()
