"""The reference side of ``preset=t2v_metrics`` on LLaVA-OneVision: t2v_metrics 3.0's scorer.

    # the project's env writes the tiny lmms-lab checkpoint, its SigLIP hub cache and the clips
    python benchmarks/parity/t2v_metrics/llava_ov_inputs.py OUT
    # a throw-away env: LLaVA-NeXT's llava package and t2v_metrics' pin of transformers
    git --git-dir=<LLaVA-NeXT mirror> archive HEAD llava | tar -x -C /tmp/llavaref/src
    pip install --no-deps --target /tmp/llavaref/site transformers==4.49.0 \
        "tokenizers>=0.21,<0.22" "huggingface_hub>=0.26,<1.0" einops
    HF_HUB_OFFLINE=1 HF_HUB_CACHE=OUT/hub \
    PYTHONPATH=/tmp/llavaref/site:/tmp/llavaref/src:/tmp/t2vref/src:/tmp/t2vref/site \
        python benchmarks/parity/t2v_metrics/llava_ov_reference.py OUT

t2v_metrics' packages are entered without their ``__init__`` (as in
``reference.py``), so ``llavaov_model.py`` runs as shipped with LLaVA-NeXT's
``load_pretrained_model``, ``conv_templates["qwen_1_5"]``,
``tokenizer_image_token``, SigLIP tower and image processor, and
``LlavaQwenForCausalLM.generate``. Changes, all for a CPU: the model table's
``llava-onevision-qwen2-7b-ov`` path points at the tiny checkpoint;
``LlavaQwenForCausalLM.from_pretrained`` is asked for float32 (LLaVA-NeXT's
builder hard-codes float16 and only knows float16/bfloat16); and
``Tensor.half`` is the identity while the scorer runs (t2v_metrics casts the
pixel values to float16, which a float32 model on a CPU cannot take: the
vision tower hands its features back in the pixels' dtype to a float32
projector). decord's bridge is set to torch, as t2v_metrics' package import
sets it (``llavaov_model`` calls ``.numpy()`` on decord's batch). After loading, every tensor of the checkpoint file is checked to
be in the model unchanged (so LLaVA-NeXT read every key), and the text vocabulary
LLaVA-NeXT resized the model to is recorded. Writes OUT/llava_ov_reference.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import inputs  # noqa: E402
import llava_ov_inputs  # noqa: E402
from _enter import enter_t2v_metrics  # noqa: E402

NAME = "llava-onevision-qwen2-7b-ov"


def main(out: Path) -> None:
    torch.set_num_threads(1)
    import transformers

    enter_t2v_metrics()
    from llava.model.language_model.llava_qwen import LlavaQwenForCausalLM
    from safetensors.torch import load_file
    from t2v_metrics.models.vqascore_models import llavaov_model as lm

    # t2v_metrics' package __init__ imports every scorer; one of them (internvideo_model)
    # sets decord's bridge to torch for the process, which llavaov_model's
    # ``vr.get_batch(...).numpy()`` relies on. Entering without the __init__ skips that.
    import decord

    decord.bridge.set_bridge("torch")

    ckpt = out / "lmms_llava_ov"
    orig = LlavaQwenForCausalLM.from_pretrained.__func__

    def fp32(cls, *a, **k):
        k["torch_dtype"] = torch.float32
        return orig(cls, *a, **k)

    LlavaQwenForCausalLM.from_pretrained = classmethod(fp32)
    lm.LLAVA_OV_MODELS[NAME]["model"]["path"] = str(ckpt)
    lm.LLAVA_OV_MODELS[NAME]["tokenizer"]["path"] = str(ckpt)
    scorer = lm.LLaVAOneVisionModel(NAME, device="cpu")
    state = scorer.model.state_dict()
    file = load_file(str(ckpt / "model.safetensors"))
    vocab = len(scorer.tokenizer)
    for k, v in file.items():
        got = state[k]
        if k in ("model.embed_tokens.weight", "lm_head.weight"):  # resized to the tokenizer
            v = v[:vocab]
        assert torch.equal(got, v), k
    assert len(file) == len(state), (sorted(set(state) - set(file)), len(file), len(state))
    result = {"transformers": transformers.__version__, "vocab_after_resize": vocab,
              "logit_rows": int(scorer.model.lm_head.weight.shape[0]),
              "config_vocab": json.loads((ckpt / "config.json").read_text())["vocab_size"],
              "indices": {}, "file": {}, "array": {}}
    clips = sorted((out / "clips").glob("clip*.avi"))
    npys = llava_ov_inputs.sampled_npys(out / "clips")
    half = torch.Tensor.half
    torch.Tensor.half = lambda self, *a, **k: self
    try:
        for clip in clips:
            n = len(inputs.clip_frames(int(clip.stem[4:])))
            result["indices"][clip.stem] = np.linspace(0, n - 1, llava_ov_inputs.NUM_FRAMES,
                                                       dtype=int).tolist()
            for kind, path in (("file", clip), ("array", npys[clip.stem])):
                scores = scorer.forward([str(path)] * len(inputs.PROMPTS), list(inputs.PROMPTS))
                result[kind][clip.stem] = [float(s) for s in scores.tolist()]
                print(kind, clip.stem, result[kind][clip.stem], flush=True)
    finally:
        torch.Tensor.half = half
    (out / "llava_ov_reference.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
