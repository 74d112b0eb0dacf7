"""LOVE's own inference code on a LOVE folder and some videos; writes what it computes.

Run with a Python whose transformers is the 4.3x LOVE pins (see README.md):

    python reference.py --repo /tmp/love_src --ckpt /tmp/love_tiny --aspect perception \
        --out ref.json v1.mp4 v2.mp4

What runs is LOVE's code from ``--repo`` (IntMeGroup/LOVE): ``InternVLChatModel``
(``model/internvl_chat_infer``, with its InternViT, InternLM2, Swin3D and heads),
``InternVLChatModel.from_pretrained`` on the folder (its ``__init__`` reads
``temporal.pth`` from the working directory, as the shell scripts have it),
and the ``SampleFrames`` / ``LazySupervisedDataset`` classes of
``train/infer_perception.py`` (``infer_correspondence.py`` for that aspect;
QA uses the perception dataset with the question as the human turn, as
``eval_qa.py``'s ``video_get_item`` is the same), taken from the script's
source unchanged (the script's module-level imports, deepspeed and
flash-attn, are not needed for them). The forward call is the scripts'.

Changes around it (each printed into the output's ``notes``):
* float32 instead of the scripts' bfloat16, and in ``swin_backbone.py`` the
  two casts ``attn = attn.to(torch.bfloat16)`` / ``v = v.to(torch.bfloat16)``
  (no-ops in LOVE's bf16 runs; type errors in float32) are dropped;
* ``decord``, ``pytorchvideo``, ``peft`` and ``imageio`` (imported, unused
  at inference or, for decord, replaced by videojury's decoder so both sides
  read the same RGB frames) are stand-ins (``shims.py``);
* before each video, ``torch.manual_seed(seed)``: the fragment offsets are
  drawn from torch's global generator, which the script seeds once (42) for
  the whole run.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def prepare(repo: Path, work: Path) -> list[str]:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(repo, work, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    notes = []
    sb = work / "model/internvl_chat_infer/swin_backbone.py"
    src = sb.read_text()
    for line in ("attn = attn.to(torch.bfloat16)", "v = v.to(torch.bfloat16)"):
        assert src.count(line) == 1, line
        src = src.replace(line, "pass  # (bf16 cast dropped for the float32 run)")
    sb.write_text(src)
    notes.append("swin_backbone.py: the two bfloat16 casts in WindowAttention3D dropped")
    return notes


def dataset_classes(script: Path, ns: dict) -> dict:
    """``SampleFrames`` and ``LazySupervisedDataset`` from a LOVE script, unchanged."""
    tree = ast.parse(script.read_text())
    keep = [n for n in tree.body if isinstance(n, ast.ClassDef)
            and n.name in ("SampleFrames", "LazySupervisedDataset")]
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(script), "exec"), ns)
    return ns


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--aspect", default="perception",
                    choices=["perception", "correspondence", "qa"])
    ap.add_argument("--texts", nargs="*", default=[],
                    help="one prompt (correspondence) or question (qa) per video")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("videos", nargs="+")
    a = ap.parse_args()

    work = Path("/tmp/love_ref_code")
    notes = prepare(Path(a.repo), work)
    sys.path.insert(0, str(HERE))
    import shims

    shims.install()
    sys.path.insert(0, str(work))
    import copy
    import gc
    import logging
    import random

    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoTokenizer

    from model.internvl_chat_infer import InternVLChatConfig, InternVLChatModel
    from train import dataset as D
    from train.constants import (BOX_END_TOKEN, BOX_START_TOKEN, IMG_CONTEXT_TOKEN,
                                 IMG_END_TOKEN, IMG_START_TOKEN, QUAD_END_TOKEN,
                                 QUAD_START_TOKEN, REF_END_TOKEN, REF_START_TOKEN)

    ckpt = Path(a.ckpt).resolve()
    # the infer script's model loading, float32
    cwd = os.getcwd()
    # InternVLChatConfig.__init__ reads the vision and LLM configs from ./config.json
    # (whatever the folder) and InternVLChatModel.__init__ loads ./temporal.pth: the
    # shell scripts run from the repository root, whose config.json is InternVL3-9B's
    os.chdir(ckpt)
    config = InternVLChatConfig.from_pretrained(str(ckpt))
    config.template = "internlm2-chat"
    config.select_layer = -1
    model, info = InternVLChatModel.from_pretrained(str(ckpt), torch_dtype=torch.float32,
                                                    config=config, output_loading_info=True)
    os.chdir(cwd)
    tokenizer = AutoTokenizer.from_pretrained(str(ckpt), add_eos_token=False,
                                              trust_remote_code=True, use_fast=False)
    tokenizer.model_max_length = 4096
    token_list = [IMG_START_TOKEN, IMG_END_TOKEN, IMG_CONTEXT_TOKEN, QUAD_START_TOKEN,
                  QUAD_END_TOKEN, REF_START_TOKEN, REF_END_TOKEN, BOX_START_TOKEN, BOX_END_TOKEN]
    assert tokenizer.add_tokens(token_list, special_tokens=True) == 0
    model.img_context_token_id = tokenizer.convert_tokens_to_ids(IMG_CONTEXT_TOKEN)
    patch = model.config.vision_config.patch_size
    size = model.config.force_image_size
    model.num_image_token = int((size // patch) ** 2 * (model.config.downsample_ratio ** 2))
    model.eval()

    script = work / "train" / ("infer_correspondence.py" if a.aspect == "correspondence"
                               else "infer_perception.py")
    ns = dict(np=np, torch=torch, Image=Image, os=os, json=json, gc=gc, random=random,
              deepcopy=copy.deepcopy, logger=logging.getLogger("love"), Dict=dict,
              Dataset=torch.utils.data.Dataset, build_transform=D.build_transform,
              dynamic_preprocess=D.dynamic_preprocess, preprocess=D.preprocess,
              preprocess_internlm=D.preprocess_internlm, preprocess_mpt=D.preprocess_mpt,
              preprocess_phi3=D.preprocess_phi3, UnidentifiedImageError=Exception,
              traceback=__import__("traceback"))
    dataset_classes(script, ns)
    root = Path(a.videos[0]).resolve().parent
    names = [str(Path(v).resolve().relative_to(root)) for v in a.videos]
    lst = Path("/tmp/love_ref_videos.txt")
    lst.write_text("\n".join(names) + "\n")
    meta = {"root": str(root), "video_name_txt": str(lst), "data_augment": False,
            "repeat_time": 1}
    if a.aspect == "correspondence":
        pt = Path("/tmp/love_ref_prompts.txt")
        pt.write_text("\n".join(a.texts) + "\n")
        meta["prompt_txt"] = str(pt)
    ds = ns["LazySupervisedDataset"]("internlm2-chat", meta, "eval", tokenizer, None,
                                     ds_name="ref", num_image_token=model.num_image_token,
                                     image_size=size, is_train=False, group_by_length=True,
                                     dynamic_image_size=False, use_thumbnail=True,
                                     min_dynamic_patch=1, max_dynamic_patch=6)
    if a.aspect == "qa":  # eval_qa.py's items: the question and an answer from the data
        ds.raw_data = [json.dumps({"video": n, "conversations": [
            {"from": "human", "value": q}, {"from": "gpt", "value": "Yes"}]})
            for n, q in zip(names, a.texts)]

    captured = {}
    model.language_model.register_forward_hook(
        lambda mod, inp, out: captured.__setitem__("logits", out.logits.detach()))
    rows = []
    with torch.no_grad():
        for i, name in enumerate(names):
            torch.manual_seed(a.seed)
            item = ds[i]
            out = model(pixel_values=item["pixel_values"], pixel_values2=item["pixel_values2"],
                        input_ids=item["input_ids"][None],
                        attention_mask=item["attention_mask"][None],
                        image_flags=item["image_flags"], labels=item["labels"][None])
            labels = item["labels"]
            first = int((labels != -100).nonzero()[0])  # first answer token
            logits = captured["logits"][0, first - 1]
            rows.append({"video": name, "score": float(out["score1"].item()),
                         "seq_len": int(item["input_ids"].shape[0]),
                         "answer_argmax": int(logits.argmax()),
                         "answer_text": tokenizer.decode([int(logits.argmax())]),
                         "answer_logits_head": [float(x) for x in logits[:8]],
                         "logits_abs_max": float(logits.abs().max())})
            print(name, rows[-1]["score"], flush=True)
    keys = sorted(model.state_dict())
    Path(a.out).write_text(json.dumps({
        "aspect": a.aspect, "seed": a.seed, "notes": notes + shims.NOTES,
        "missing_keys": info["missing_keys"], "unexpected_keys": info["unexpected_keys"],
        "n_model_keys": len(keys), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
