"""Differentiable rewards on tiny random checkpoints, offline.

* The torch preprocessing equals OpenCV's resize and the processors' own
  output to rounding, and is exactly differentiable (``gradcheck``).
* ``m.reward(frames, prompts)`` equals the scored path (``videojury.score``
  on a lossless FFV1 file, or the metric called on the same frames in memory
  (``m(frames, fps=..., prompt=...)``) to a stated tolerance, for every
  supported metric and model family.
* Gradients reach the pixels, are finite and non-zero, and agree with
  central finite differences in float64 (random directions and single
  coordinates) for a CLIP-family metric, BLIP ITM, VQAScore and a level judge.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from ._vlm_models import tiny_models  # noqa: E402,F401

import videojury  # noqa: E402
from videojury.errors import MetricError  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.video import write_video  # noqa: E402

pytestmark = pytest.mark.models
PROMPT = "a red car on the road"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _clip(t=6, h=24, w=32, seed=0) -> np.ndarray:
    """A smooth moving pattern plus mild noise, uint8 (T, H, W, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(t):
        base = 128 + 80 * np.sin((xx + 2 * i) / 5.0)[..., None] * np.cos(yy / 7.0)[..., None]
        base = base * np.array([1.0, 0.8, 0.6]) + rng.normal(0, 6, (h, w, 3))
        frames.append(np.clip(base, 0, 255).astype(np.uint8))
    return np.stack(frames)


def _float(u8: np.ndarray, dtype=torch.float32):
    return torch.from_numpy(u8).permute(0, 3, 1, 2).to(dtype) / 255.0


def _scored(m, u8: np.ndarray, fps: float, prompt: str = PROMPT) -> dict[str, float]:
    """The metric's ordinary (non-differentiable) score of the same frames in memory."""
    return m(u8, fps=fps, prompt=prompt if m.needs_prompt else None)


# --- preprocessing ----------------------------------------------------------

def test_cv2_resize_matrices_equal_opencv():
    import cv2

    from videojury.models.pixels import cv2_resize

    rng = np.random.default_rng(1)
    for (h, w), (th, tw) in [((48, 64), (30, 40)), ((100, 130), (37, 49)), ((24, 32), (224, 299))]:
        img = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
        interp = cv2.INTER_AREA if tw * th < w * h else cv2.INTER_CUBIC
        want = cv2.resize(img, (tw, th), interpolation=interp)
        got = cv2_resize(torch.from_numpy(img).permute(2, 0, 1).double(), tw, th)
        assert np.abs(got.permute(1, 2, 0).numpy() - want).max() < 1e-3


def test_processor_resize_matches_the_uint8_kernel():
    from videojury.models.pixels import processor_resize

    torch.manual_seed(0)
    for shape, size in [((1, 3, 224, 298), (32, 42)), ((2, 3, 40, 56), (56, 28)),
                        ((1, 3, 20, 30), (32, 48))]:
        x = (torch.rand(*shape) * 255).round()
        want = torch.nn.functional.interpolate(x.to(torch.uint8), size=size, mode="bicubic",
                                               antialias=True, align_corners=False)
        got = processor_resize(x, *size, "bicubic")
        diff = (got - want.float()).abs()  # grey levels; the kernel rounds between passes
        assert diff.max() <= 1.5 and diff.mean() < 0.4


def test_preprocessing_passes_gradcheck(tiny_models):
    """The whole pixel chain (policy resize, processor resize, crop, normalise) in
    float64 against finite differences, on a tiny input."""
    from transformers import AutoProcessor

    from videojury.models.pixels import cv2_resize, image_pixels

    ip = AutoProcessor.from_pretrained(tiny_models["clip"]).image_processor
    x = (torch.rand(1, 3, 5, 7, dtype=torch.float64) * 0.8 + 0.1).requires_grad_(True)

    def chain(v):
        up = cv2_resize(v, 40, 28).clamp(0, 1)  # decoder-style upscale
        return image_pixels(up * 255.0, ip)[..., ::5, ::5]

    assert torch.autograd.gradcheck(chain, (x,), eps=1e-6, atol=1e-5, fast_mode=True)


# --- reward equals the scored path ----------------------------------------------

@pytest.mark.parametrize("spec,family,tol", [
    ("clipscore", "clip", 2e-3), ("pickscore", "clip", 2e-2), ("siglip_score", "siglip", 2e-3),
    ("blip_itm", "blip_itm", 2e-3), ("clip_temporal", "clip", 1e-4),
    ("vqascore", "qwen2_5_vl", 1e-5), ("vqascore", "qwen3_vl", 1e-5),
    ("vqascore", "internvl", 2e-5), ("vqascore", "llava_onevision", 2e-5),
    ("judge_quality", "qwen2_5_vl", 0.2), ("judge_quality", "internvl", 0.2),
    ("level_judge", "llava_onevision", 0.3),
])
def test_reward_equals_score_on_the_same_frames(tiny_models, spec, family, tol):
    m = load_metric(f"{spec}:model={tiny_models[family]},frames=4")
    u8 = _clip()
    field = m.fields[0].name
    want = _scored(m, u8, 8.0)[field]
    x = _float(u8).requires_grad_(True)
    got = m.reward(x[None], [PROMPT], fps=8.0)
    assert got.shape == (1,) and got.dtype == torch.float32
    assert abs(got.item() - want) <= tol, (got.item(), want)
    if spec == "clipscore" and got.item() == 0:  # max(cos, 0) is flat below 0
        got = m.reward(x[None], [PROMPT], fps=8.0, field="clip_cosine")
    got.sum().backward()
    g = x.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().max() > 0


@pytest.mark.parametrize("spec,family,tol", [("clipscore", "clip", 2e-3),
                                             ("vqascore", "qwen2_5_vl", 1e-5)])
def test_reward_equals_videojury_score_on_ffv1(tiny_models, tmp_path, spec, family, tol):
    u8s = [_clip(seed=s, t=6 + s) for s in range(3)]
    paths = [write_video(tmp_path / f"c{i}.mkv", c, fps=8.0, codec="ffv1", crf=None,
                         pix_fmt="bgr0") for i, c in enumerate(u8s)]
    prompts = [PROMPT, "a blue dog", "people walking in the city at night"]
    mspec = f"{spec}:model={tiny_models[family]}"
    df = videojury.score([str(p) for p in paths], prompts=prompts, metrics=[mspec])
    m = load_metric(mspec)
    field = m.fields[0].name
    got = m.reward([_float(c) for c in u8s], prompts, fps=8.0)  # clips of different lengths
    assert got.shape == (3,)
    assert np.abs(got.detach().numpy() - df[field].to_numpy()).max() <= tol


def test_batch_matches_single_clips(tiny_models):
    m = load_metric(f"siglip_score:model={tiny_models['siglip']},frames=3")
    xs = torch.stack([_float(_clip(seed=s)) for s in range(3)])
    prompts = ["a", "b c", "a"]
    together = m.reward(xs, prompts)
    alone = torch.cat([m.reward(xs[i], prompts[i]) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-6)
    other = m.reward(xs, prompts, field="siglip_cosine")
    assert not torch.allclose(other, together)


def test_every_reward_field_matches_its_score(tiny_models):
    """Not only the first field: every differentiable field of the two-tower metrics."""
    from videojury.metrics.vlm.reward import reward_fields

    u8 = _clip()
    x = _float(u8)
    for spec, fam in [("clipscore", "clip"), ("siglip_score", "siglip"), ("pickscore", "clip"),
                      ("blip_itm", "blip_itm"), ("clip_temporal", "clip")]:
        m = load_metric(f"{spec}:model={tiny_models[fam]},frames=3")
        want = _scored(m, u8, 8.0)
        fields = reward_fields(m)
        assert fields == [f.name for f in m.fields]
        for name in fields:
            got = m.reward(x, PROMPT, field=name).item()
            assert got == pytest.approx(want[name], abs=2e-3 * max(1.0, abs(want[name])))


# --- gradients agree with finite differences (float64) ---------------------------

def _double_metric(spec: str, family: str, tmp_path):
    """A metric on its own copy of a tiny checkpoint, converted to float64."""
    from videojury.models.tiny import build_tiny

    path = build_tiny(family, tmp_path / family)
    # No decoder-side resize (its weights are checked by gradcheck above): small and fast.
    m = load_metric(f"{spec}:model={path},frames=2,max_pixels=100000")
    m.backbone().model.double()
    return m


# The chat models' RMSNorm layers compute in float32 even in a float64 model, so
# their finite differences are noisy at small eps (the level judge's 0-100 scale
# amplifies it): larger steps and a looser tolerance there.
@pytest.mark.parametrize("spec,family,field,eps,rel", [
    ("clipscore", "clip", "clip_cosine", 1e-6, 1e-4),
    ("siglip_score", "siglip", "siglip_prob", 1e-6, 1e-4),
    ("blip_itm", "blip_itm", "blip_itm", 1e-6, 1e-4),
    ("vqascore", "qwen2_5_vl", "vqascore", 1e-4, 1e-2),
    ("judge_quality", "internvl", "judge_quality", 1e-3, 2e-2),
])
def test_gradients_agree_with_finite_differences(tmp_path, spec, family, field, eps, rel):
    m = _double_metric(spec, family, tmp_path)
    u8 = _clip(t=3, h=12, w=16)
    x = _float(u8, torch.float64)[None]
    # Keep away from 0 and 1, where the clamps of the scored path would cut gradients.
    x = (x * 0.8 + 0.1).requires_grad_(True)
    f = lambda v: m.reward(v, [PROMPT], fps=8.0, field=field)  # noqa: E731
    val = f(x)
    assert val.dtype == torch.float64
    (grad,) = torch.autograd.grad(val.sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().max() > 0
    rng = np.random.default_rng(0)
    checks = [torch.from_numpy(rng.normal(size=x.shape)) for _ in range(2)]
    for flat in rng.choice(x.numel(), 2, replace=False):  # single coordinates
        e = torch.zeros(x.numel(), dtype=torch.float64)
        e[flat] = 1.0
        checks.append(e.reshape(x.shape))
    with torch.no_grad():
        for v in checks:
            fd = (f(x + eps * v) - f(x - eps * v)).item() / (2 * eps)
            an = float((grad * v).sum())
            assert fd == pytest.approx(an, rel=rel, abs=1e-9 + rel * grad.abs().max().item())


# --- input errors -----------------------------------------------------------------

def test_reward_refuses_bad_input(tiny_models):
    m = load_metric(f"clipscore:model={tiny_models['clip']},frames=2")
    x = _float(_clip())
    with pytest.raises(MetricError, match="one prompt per clip"):
        m.reward(x[None].repeat(2, 1, 1, 1, 1), [PROMPT])
    with pytest.raises(MetricError, match="needs one prompt"):
        m.reward(x)
    with pytest.raises(MetricError, match=r"\[-1, 1\]"):
        m.reward(x * 2 - 1, PROMPT)
    with pytest.raises(MetricError, match="float pixels"):
        m.reward((x * 255).to(torch.uint8), PROMPT)
    with pytest.raises(MetricError, match=r"\(B, T, 3, H, W\)"):
        m.reward(x[0], PROMPT)
    with pytest.raises(MetricError, match="not one of"):
        m.reward(x, PROMPT, field="nope")
    judge = load_metric(f"judge_quality:model={tiny_models['internvl']}")
    with pytest.raises(MetricError, match="not one of"):
        judge.reward(x, field="judge_quality_level")
    qwen = load_metric(f"vqascore:model={tiny_models['qwen2_5_vl']}")
    with pytest.raises(MetricError, match="fps="):
        qwen.reward(x, PROMPT)
    qa = load_metric(f"qa:model={tiny_models['qwen2_5_vl']}")
    with pytest.raises(MetricError, match="no differentiable reward"):
        qa.reward(x, PROMPT)


def test_reward_freezes_the_judge(tiny_models):
    m = load_metric(f"pickscore:model={tiny_models['clip']},frames=2")
    x = _float(_clip()).requires_grad_(True)
    m.reward(x, PROMPT).sum().backward()
    model = m.backbone().model
    assert not any(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())


def test_gradient_ascent_on_pixels_raises_the_reward(tiny_models):
    """The use it is for: a few optimiser steps on the pixels (standing in for a
    generator's parameters) raise the reward, and the scored path agrees."""
    m = load_metric(f"pickscore:model={tiny_models['clip']},frames=4")
    u8 = _clip()
    logits = torch.logit(_float(u8).clamp(0.02, 0.98)).requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=0.05)
    start = m.reward(torch.sigmoid(logits), PROMPT).item()
    for _ in range(5):
        opt.zero_grad()
        loss = -m.reward(torch.sigmoid(logits), PROMPT).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        end_frames = torch.sigmoid(logits)
        end = m.reward(end_frames, PROMPT).item()
    assert end > start + 0.5
    scored = _scored(m, (end_frames * 255).round().byte().permute(0, 2, 3, 1).numpy(), 8.0)
    assert scored["pickscore"] == pytest.approx(end, abs=0.05)
