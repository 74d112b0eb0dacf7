"""The reference side of ``vqascore:preset=t2v_metrics``: t2v_metrics 3.0's Qwen-VL scorer.

    pip download t2v_metrics==3.0 --no-deps -d /tmp/t2vref/dl
    mkdir -p /tmp/t2vref/src && (cd /tmp/t2vref/src && unzip -qo ../dl/t2v_metrics-3.0-*.whl)
    pip install --no-deps --target /tmp/t2vref/site decord qwen-vl-utils==0.0.14
    PYTHONPATH=/tmp/t2vref/src:/tmp/t2vref/site python benchmarks/parity/t2v_metrics/reference.py OUT

Only the imports the scorer needs are satisfied: the packages ``t2v_metrics``,
``t2v_metrics.models`` and ``t2v_metrics.models.vqascore_models`` are entered
without running their ``__init__`` (which import every scorer t2v_metrics
ships, with their many dependencies), so ``qwen2vl_model.py``,
``vqa_model.py``, ``model.py`` and ``constants.py`` run as shipped. The one
change is in the model table entries ``qwen2.5-vl-7b`` and ``qwen2-vl-7b``: their
paths point at the tiny checkpoints of ``inputs.py`` and it loads in float32 with SDPA attention
(the shipped entry asks for bfloat16 and flash-attention 2, which a CPU has
not). ``Qwen2VLModel.forward`` then runs unchanged, with its defaults
(question template, fps 8, max_pixels 360*420, ``generate`` scores), on each
clip as a video file (.avi, read by qwen-vl-utils' decord backend) and as a
frames array (.npy) of the frames qwen-vl-utils' own 8 fps rule
(``smart_nframes``, ``linspace``) picks from the clip, which is what videojury
does with a clip in memory. Writes OUT/reference.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import inputs  # noqa: E402
from _enter import enter_t2v_metrics  # noqa: E402


def main(out: Path) -> None:
    torch.set_num_threads(1)
    enter_t2v_metrics()
    from t2v_metrics.models.vqascore_models import qwen2vl_model as qm

    out.mkdir(parents=True, exist_ok=True)
    clips = inputs.write_clips(out / "clips")
    from qwen_vl_utils.vision_process import smart_nframes

    picked = []
    indices = {}
    for i, clip in enumerate(clips):
        # The array case gets the frames qwen-vl-utils' own rule picks from the clip at
        # 8 fps (videojury samples a clip in memory as it samples the same file).
        arr = inputs.clip_frames(i)
        n = smart_nframes({"fps": qm.QWEN2_VL_MODELS["qwen2.5-vl-7b"]["fps"]},
                          total_frames=len(arr), video_fps=inputs.CLIPS[i][3])
        idx = torch.linspace(0, len(arr) - 1, n).round().long().tolist()
        picked.append(out / "clips" / f"{clip.stem}_sampled.npy")
        np.save(picked[-1], arr[idx])
        indices[clip.stem] = idx
    result: dict[str, Any] = {"indices": indices}
    # t2v_metrics picks the Qwen2.5-VL class when "qwen2.5" is in the model name, else Qwen2-VL
    for family, name in (("qwen2_5_vl", "qwen2.5-vl-7b"), ("qwen2_vl", "qwen2-vl-7b")):
        ckpt = inputs.build_checkpoint(out / f"tiny_{family}", family=family)
        entry = qm.QWEN2_VL_MODELS[name]
        entry["tokenizer"]["path"] = str(ckpt)
        entry["model"].update(path=str(ckpt), torch_dtype=torch.float32,
                              attn_implementation="sdpa")
        scorer = qm.Qwen2VLModel(name, device="cpu", cache_dir=str(out / "cache"),
                                 checkpoint=str(ckpt))
        res: dict[str, dict[str, list[float]]] = {"file": {}, "array": {}}
        for clip, npy in zip(clips, picked):
            for kind, path in (("file", clip), ("array", npy)):
                scores = scorer.forward([str(path)] * len(inputs.PROMPTS), list(inputs.PROMPTS))
                res[kind][clip.stem] = [float(s) for s in scores.tolist()]
                print(family, kind, clip.stem, res[kind][clip.stem], flush=True)
        result[family] = res
    (out / "reference.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
