"""videoscore2 against the steps of VideoScore2's released vs2_inference.py, on a tiny model.

The reference side does what the released script does, with qwen-vl-utils
itself reading the frames: ``process_vision_info`` on a message holding the
video path at ``fps=2.0``, the processor called with ``fps=2.0``, then
``generate`` with ``output_scores=True`` (greedy here, and the released
``do_sample=True, temperature=0.7`` under a seed), the released regular
expression on the decoded answer, the score-token search by decoding
prefixes, and ``argmax digit x max p / sum p`` rounded to 4 places. These
steps are restated here from the script (its text is not copied); the
videojury side is ``load_metric("videoscore2"/"videoscore2_prob")``.

qwen-vl-utils is not a videojury dependency: give its folder with
``--qwen-vl-utils`` (``pip install --no-deps --target DIR qwen-vl-utils``).
torchvision 0.25+ has no ``io.read_video``; the harness puts back one that
decodes every frame with PyAV (as the old one did) so that qwen-vl-utils'
own torchvision reader (frame count, fps, linspace indices) runs unchanged.

    python benchmarks/parity/videoscore/vs2_parity.py --qwen-vl-utils /tmp/qvu_lib
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))


def _read_video_pyav(path, start_pts=0.0, end_pts=None, pts_unit="sec", output_format="TCHW"):
    import av
    import torch

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        fps = float(s.average_rate)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
    v = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
    return v, None, {"video_fps": fps}


def reference(model, proc, video: Path, prompt: str, seed: int | None):
    import torch
    from qwen_vl_utils import process_vision_info

    from videojury.metrics.vlm.videoscore import VS2_TEMPLATE

    user = VS2_TEMPLATE.replace("$t2v_prompt", prompt)
    messages = [{"role": "user", "content": [{"type": "video", "video": str(video), "fps": 2.0},
                                             {"type": "text", "text": user}]}]
    text = proc.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    images, videos = process_vision_info(messages)
    inputs = proc(text=[text], images=images, videos=videos, fps=2.0, padding=True,
                  return_tensors="pt")
    kw = dict(max_new_tokens=1024, output_scores=True, return_dict_in_generate=True)
    if seed is None:
        kw.update(do_sample=False)
    else:
        torch.manual_seed(seed)
        kw.update(do_sample=True, temperature=0.7)
    with torch.inference_mode():
        out = model.generate(**inputs, **kw)
    n = inputs["input_ids"].shape[1]
    gen = out.sequences[0, n:].tolist()
    answer = proc.batch_decode(out.sequences[:, n:], skip_special_tokens=True,
                               clean_up_tokenization_spaces=False)[0]
    m = re.search(r"visual quality:\s*(\d+).*?text-to-video alignment:\s*(\d+).*?"
                  r"physical/common-sense consistency:\s*(\d+)", answer, re.DOTALL | re.I)
    ints = tuple(int(g) for g in m.groups()) if m else None
    tok = proc.tokenizer
    probs = []
    for label in ("visual quality:", "text-to-video alignment:",
                  "physical/common-sense consistency:"):
        s = tok.decode(gen, skip_special_tokens=False)
        mm = re.search(r"(?:\(\d+\)\s*|\n\s*)?" + re.escape(label), s, flags=re.I)
        dd = re.search(r"\d", s[mm.end():]) if mm else None
        idx = -1
        if dd:
            target = s[:mm.end() + dd.start() + 1]
            idx = next((i for i in range(len(gen))
                        if tok.decode(gen[:i + 1], skip_special_tokens=False) == target), -1)
        if idx < 0 or ints is None:  # the script returns None without a hard score
            probs.append(None)
            continue
        logp = torch.log_softmax(out.scores[idx][0], dim=-1)
        ps = [(k, float(np.exp(logp[tok.encode(str(k), add_special_tokens=False)[0]].item())))
              for k in range(1, 6) if len(tok.encode(str(k), add_special_tokens=False)) == 1]
        vals = [p for _, p in ps]
        best = ps[vals.index(max(vals))][0]
        probs.append(round(best * max(vals) / sum(vals), 4))
    return inputs, gen, ints, probs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qwen-vl-utils", required=True, help="folder holding qwen_vl_utils/")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, args.qwen_vl_utils)
    import torch
    import torchvision.io
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torchvision.io.read_video = _read_video_pyav
    import qwen_vl_utils.vision_process as vpm
    vpm.io.read_video = _read_video_pyav
    vpm.get_video_reader_backend = lambda: "torchvision"

    from tests._vs2_tiny import build_tiny_vs2, tiny_video

    from videojury.data.items import Item
    from videojury.metrics.base import load_metric
    from videojury.metrics.vlm.videoscore import released_inputs, vs2_query
    from videojury.video.decode import sample

    torch.set_num_threads(1)
    prompt = "a red car on the road"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train = tiny_video(tmp / "train.mp4")
        model_dir = build_tiny_vs2(tmp / "model", train, prompt)
        model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
        proc = AutoProcessor.from_pretrained(model_dir)
        videos = [train, tiny_video(tmp / "b.mp4", frames=23, h=64, w=48, fps=12),
                  tiny_video(tmp / "c.mp4", frames=9, h=40, w=90, fps=6)]
        worst_px = 0.0
        for v in videos:
            for seed in [None] + list(range(args.seeds)):
                ref_in, ref_gen, ref_ints, ref_probs = reference(model, proc, v, prompt, seed)
                opts = {} if seed is None else {"decoding": "sample", "seed": seed}
                m_int = load_metric("videoscore2", model=str(model_dir), **opts)
                m_prob = load_metric("videoscore2_prob", model=str(model_dir), **opts)
                fr = sample(v, m_int.frame_policy())
                text = proc.apply_chat_template([{"role": "user", "content": [
                    {"type": "video"}, {"type": "text", "text": vs2_query(prompt)}]}],
                    tokenize=False, add_generation_prompt=True)
                ours = released_inputs(proc, fr, [text], 2.0)
                assert torch.equal(ours["input_ids"], ref_in["input_ids"])
                d = ours["pixel_values_videos"] - ref_in["pixel_values_videos"]
                px = float(d.abs().max())
                worst_px = max(worst_px, px)
                rec = m_int.explain([fr], [Item(video=str(v), prompt=prompt)])[0]["answers"][0]
                ints = rec.get("ints")
                probs = rec.get("probs", [None, None, None])
                same = ints == ref_ints and probs == ref_probs
                print(f"{v.name} seed={seed}: frames {fr.indices.tolist()} pixels max|d|={px:.2e} "
                      f"ints {ints} vs {ref_ints}, prob {probs} vs {ref_probs} "
                      f"{'OK' if same else 'DIFFER'}")
                if ints is not None:
                    s_int = m_int.score_batch([fr], [Item(video=str(v), prompt=prompt)])[0]
                    s_prob = m_prob.score_batch([fr], [Item(video=str(v), prompt=prompt)])[0]
                    assert tuple(s_int.values()) == tuple(float(i) for i in ref_ints)
                    assert tuple(s_prob.values()) == tuple(ref_probs)
        print(f"worst pixel difference {worst_px:.3e}")


if __name__ == "__main__":
    main()
