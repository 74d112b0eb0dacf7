"""CLIP-family metrics on tiny random CLIP, SigLIP and BLIP checkpoints, offline.

The scores are checked against the models' own outputs computed here with
plain transformers calls (so the formulas are what the docs say), and for
ranges, determinism, batch invariance and one load per checkpoint.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from ._vlm_models import PROMPTS, tiny_models, tiny_videos  # noqa: E402,F401

import videojury  # noqa: E402
from videojury.data.items import Item  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.models import loading  # noqa: E402
from videojury.video import sample, write_video  # noqa: E402

pytestmark = pytest.mark.models


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _reference_cosines(path, frames: np.ndarray, text: str, siglip: bool = False) -> np.ndarray:
    """Per-frame cosines straight from transformers, independent of videojury's code."""
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(path, use_safetensors=True).eval()
    proc = AutoProcessor.from_pretrained(path)
    kw = {"padding": "max_length", "max_length": 16} if siglip else {"padding": True}
    inputs = proc(text=[text], images=list(frames), return_tensors="pt", **kw)
    with torch.no_grad():
        out = model(**inputs)
    img = torch.nn.functional.normalize(out.image_embeds, dim=-1)
    txt = torch.nn.functional.normalize(out.text_embeds, dim=-1)
    return (img @ txt.T)[:, 0].numpy()


def test_clipscore_is_hessel_formula(tiny_models, tiny_videos):
    path = tiny_models["clip"]
    m = load_metric(f"clipscore:model={path}")
    item = Item(video=tiny_videos[0], prompt=PROMPTS[0])
    fr = sample(item.video, m.frame_policy())
    assert len(fr) == 8  # 8 uniform frames by default
    cos = _reference_cosines(path, fr.array, item.prompt)
    got = m.score(fr, item)
    assert got["clip_cosine"] == pytest.approx(float(cos.mean()), abs=1e-5)
    assert got["clipscore"] == pytest.approx(float(np.mean(2.5 * np.maximum(cos, 0))), abs=1e-5)


def test_siglip_prob_is_sigmoid_of_scaled_cosine(tiny_models, tiny_videos):
    path = tiny_models["siglip"]
    m = load_metric(f"siglip_score:model={path}")
    item = Item(video=tiny_videos[1], prompt=PROMPTS[1])
    fr = sample(item.video, m.frame_policy())
    cos = _reference_cosines(path, fr.array, item.prompt, siglip=True)
    model = m.backbone().model
    scale, bias = model.logit_scale.exp().item(), model.logit_bias.item()
    got = m.score(fr, item)
    assert got["siglip_cosine"] == pytest.approx(float(cos.mean()), abs=1e-5)
    want = float(np.mean(1 / (1 + np.exp(-(scale * cos + bias)))))
    assert got["siglip_prob"] == pytest.approx(want, abs=1e-5)


def test_alignment_metrics_ranges_determinism_batches(tiny_models, tiny_videos):
    clip, sig, blip = (tiny_models[k] for k in ("clip", "siglip", "blip_itm"))
    specs = [f"clipscore:model={clip}", f"siglip_score:model={sig}", f"pickscore:model={clip}",
             f"blip_itm:model={blip}", f"clip_temporal:model={clip}"]
    runs = [videojury.score(tiny_videos, prompts=PROMPTS,
                            metrics=[s + f",batch_size={bs}" for s in specs])
            for bs in (4, 4, 1)]
    df = runs[0]
    assert df["error"].isna().all(), df["error"].tolist()
    assert df["clipscore"].between(0, 2.5).all()
    for col in ("clip_cosine", "siglip_cosine", "pickscore_cosine", "blip_itc_cosine",
                "clip_temporal", "clip_temporal_vbench"):
        assert df[col].between(-1 - 1e-6, 1 + 1e-6).all(), col
    for col in ("siglip_prob", "blip_itm"):
        assert df[col].between(0, 1).all(), col
    cols = [c for c in df.columns if c not in ("video", "prompt", "error")]
    assert runs[0][cols].equals(runs[1][cols])  # identical across two runs
    np.testing.assert_allclose(runs[0][cols].to_numpy(float), runs[2][cols].to_numpy(float),
                               rtol=1e-5, atol=1e-6)  # batch 4 vs batch 1
    # PickScore is the learned scale times the cosine.
    scale = load_metric(f"pickscore:model={clip}").backbone().model.logit_scale.exp().item()
    np.testing.assert_allclose(df["pickscore"], scale * df["pickscore_cosine"], rtol=1e-5)
    assert df["pickscore_cosine"].equals(df["clip_cosine"])  # same backbone, same cosine


def test_clip_temporal_static_video_is_one(tiny_models, tmp_path, tiny_videos):
    still = np.repeat(np.random.default_rng(3).integers(0, 255, (1, 48, 64, 3), np.uint8),
                      12, axis=0)
    p = tmp_path / "still.mp4"
    write_video(p, still, fps=8)
    df = videojury.score([str(p), tiny_videos[3]],
                         metrics=[f"clip_temporal:model={tiny_models['clip']}"])
    assert df["clip_temporal"].iloc[0] == pytest.approx(1.0, abs=2e-3)
    assert df["clip_temporal_vbench"].iloc[0] == pytest.approx(1.0, abs=2e-3)
    assert df["clip_temporal"].iloc[1] < df["clip_temporal"].iloc[0]


def test_blip_itm_probability_is_the_match_head(tiny_models, tiny_videos):
    from transformers import AutoProcessor, BlipForImageTextRetrieval

    path = tiny_models["blip_itm"]
    m = load_metric(f"blip_itm:model={path}")
    item = Item(video=tiny_videos[2], prompt=PROMPTS[2])
    fr = sample(item.video, m.frame_policy())
    model = BlipForImageTextRetrieval.from_pretrained(path).eval()
    proc = AutoProcessor.from_pretrained(path)
    inputs = proc(images=list(fr.array), text=[item.prompt] * len(fr), return_tensors="pt",
                  padding=True)
    with torch.no_grad():
        p = torch.softmax(model(**inputs).itm_score, dim=-1)[:, 1].numpy()
    assert m.score(fr, item)["blip_itm"] == pytest.approx(float(p.mean()), abs=1e-5)


def test_clip_metrics_share_one_backbone(tiny_models, tiny_videos):
    path = tiny_models["clip"]
    loading.clear_cache()
    df = videojury.score(tiny_videos[:2], prompts=PROMPTS[:2],
                         metrics=[f"clipscore:model={path}", f"pickscore:model={path}",
                                  f"clip_temporal:model={path}"])
    assert df["error"].isna().all()
    assert loading.load_count(path) == 1


def test_wrong_kind_of_model_is_a_clear_error(tiny_models, tiny_videos):
    df = videojury.score(tiny_videos[:1], prompts=PROMPTS[:1],
                         metrics=[f"vqascore:model={tiny_models['clip']}",
                                  f"clipscore:model={tiny_models['internvl']}"])
    err = df["error"].iloc[0]
    assert "not a video chat model" in err
    assert "CLIP-style embedding model" in err
