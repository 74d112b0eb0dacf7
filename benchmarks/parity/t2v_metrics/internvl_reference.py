"""The reference side of ``vqascore:preset=t2v_metrics`` on InternVL: t2v_metrics 3.0's scorer.

Runs t2v_metrics' ``InternVL2Model.forward`` (``internvl_model.py``) unchanged on a tiny
random InternVL3 in OpenGVLab's own layout, through OpenGVLab's own model code
(``modeling_internvl_chat.py`` and its siblings from github.com/OpenGVLab/InternVL,
``internvl_chat/internvl/model/internvl_chat/``, copied into the checkpoint folder and
loaded by ``AutoModel.from_pretrained(trust_remote_code=True)`` through the config's
``auto_map``, as from the hub). Environment: transformers 4.49.0 (t2v_metrics 3.0's pin;
OpenGVLab's remote code predates transformers 5), the project's torch, decord 0.6.0
(commands in this folder's README); it also runs under transformers 4.37.2 (OpenGVLab's pin).
``--repetition-penalty P`` puts ``repetition_penalty`` into the tiny ``llm_config``
(the LLM's generation config) to show what it does to the scores.
What the harness does around the scorer: t2v_metrics' packages are entered without their
``__init__`` (as ``reference.py`` does); decord's bridge is set to torch, which importing
t2v_metrics does (its ``internvideo_model`` sets it globally; ``load_video`` calls
``vr[i].numpy()``, which only the torch bridge provides); ``peft`` is a stub
(imported by OpenGVLab's model file, called only for LoRA configs); the ``internvl3-8b``
model-table entry points at the tiny folder in float32 without ``device_map`` (CPU).
Inputs: the clips and prompts of ``inputs.py`` and
:func:`videojury.models.internvl_chat.build_tiny_chat` (seed 0), built here.

"file": each clip as a .avi through decord. "array": the same clip's frames from memory,
through the same ``load_video`` with a stand-in ``VideoReader`` over the array
(t2v_metrics' ``.npy`` path takes one H x W x 3 image only: a frames array is refused
with ``ValueError: Unexpected shape``). Writes OUT/internvl_reference.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MODEL_FILES = ("configuration_intern_vit.py", "configuration_internvl_chat.py",
               "modeling_intern_vit.py", "modeling_internvl_chat.py")


class ArrayReader:
    """decord's ``VideoReader`` surface ``load_video`` uses, over frames in memory."""

    arrays: dict = {}

    def __init__(self, path, *args, **kwargs):
        self._a, self._fps = self.arrays[path]

    def __len__(self):
        return len(self._a)

    def __getitem__(self, i):
        import torch

        return torch.from_numpy(self._a[int(i)].copy())

    def get_avg_fps(self):
        return self._fps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--internvl", type=Path, required=True,
                    help="OpenGVLab/InternVL's internvl_chat folder (holds internvl/)")
    ap.add_argument("--t2v", type=Path, required=True, help="folder holding t2v_metrics/")
    ap.add_argument("--repetition-penalty", type=float, default=None,
                    help="put this repetition_penalty into the tiny config's llm_config (the "
                         "LLM's generation config): shows it has no effect on the scores")
    ap.add_argument("--bos", action="store_true",
                    help="the tiny tokenizer puts <s> first (InternLM2's habit): t2v_metrics' "
                         "encode('Yes')[0] is then the BOS id")
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    out = args.out.resolve()
    os.environ.setdefault("HF_MODULES_CACHE", str(out / "hf_modules"))
    sys.path[:0] = [str(HERE), str(ROOT / "src"), str(args.internvl), str(args.t2v)]
    import torch

    torch.set_num_threads(1)
    import decord
    import transformers

    decord.bridge.set_bridge("torch")
    peft = types.ModuleType("peft")
    peft.LoraConfig = peft.get_peft_model = None
    sys.modules["peft"] = peft
    import inputs  # noqa: E402  (benchmarks/parity/t2v_metrics/inputs.py)

    from videojury.models.internvl_chat import build_tiny_chat

    from _enter import enter_t2v_metrics

    enter_t2v_metrics(args.t2v / "t2v_metrics")
    from t2v_metrics.models.vqascore_models import internvl_model as im

    out.mkdir(parents=True, exist_ok=True)
    clips = inputs.write_clips(out / "clips")
    ckpt = build_tiny_chat(out / "tiny_internvl_chat", seed=0, bos=args.bos)
    if args.repetition_penalty is not None:
        cfg = json.loads((ckpt / "config.json").read_text(encoding="utf-8"))
        cfg["llm_config"]["repetition_penalty"] = args.repetition_penalty
        (ckpt / "config.json").write_text(json.dumps(cfg, indent=1, ensure_ascii=False),
                                          encoding="utf-8")
    src = args.internvl / "internvl" / "model" / "internvl_chat"
    for f in MODEL_FILES:
        shutil.copyfile(src / f, ckpt / f)
    entry = im.INTERNVL2_MODELS["internvl3-8b"]
    entry["tokenizer"]["path"] = str(ckpt)
    entry["model"].update(pretrained_model_name_or_path=str(ckpt), torch_dtype=torch.float32)
    entry["model"].pop("device_map", None)
    scorer = im.InternVL2Model("internvl3-8b", device="cpu")
    result = {"transformers": transformers.__version__, "torch": torch.__version__,
              "llm_repetition_penalty":
                  scorer.model.language_model.generation_config.repetition_penalty,
              "decord": decord.__version__, "model_class": type(scorer.model).__name__,
              "yes_id": scorer.tokenizer.encode("Yes")[0],
              "bos_id": scorer.tokenizer.convert_tokens_to_ids("<s>") if args.bos else None,
              "file": {}, "array": {},
              "indices": {}}
    for i, clip in enumerate(clips):
        vr = decord.VideoReader(str(clip), ctx=decord.cpu(0), num_threads=1)
        idx = scorer.get_video_index(None, float(vr.get_avg_fps()), len(vr) - 1,
                                     num_segments=16)
        result["indices"][clip.stem] = [int(x) for x in idx]
        fake = str(out / "clips" / f"{clip.stem}_array.avi")
        ArrayReader.arrays[fake] = (inputs.clip_frames(i), inputs.CLIPS[i][3])
        n = len(inputs.PROMPTS)
        scores = scorer.forward([str(clip)] * n, list(inputs.PROMPTS))
        result["file"][clip.stem] = [float(s) for s in scores.tolist()]
        im.VideoReader = ArrayReader
        try:
            scores = scorer.forward([fake] * n, list(inputs.PROMPTS))
        finally:
            im.VideoReader = decord.VideoReader
        result["array"][clip.stem] = [float(s) for s in scores.tolist()]
        print(clip.stem, result["indices"][clip.stem], result["file"][clip.stem],
              result["array"][clip.stem], flush=True)
    (out / "internvl_reference.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
