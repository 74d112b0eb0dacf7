"""Session fixtures for the vision-language tests: tiny checkpoints and short videos.

Imported by the ``test_vlm_*`` modules (``from _vlm_models import ...``),
so pytest sees the fixtures there without a shared conftest. Every
checkpoint is built once per session, offline, by
:func:`videojury.models.tiny.build_tiny` and then loaded by the metrics
through the same ``from_pretrained`` calls a downloaded checkpoint takes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

LMM_FAMILIES = ("qwen2_5_vl", "qwen3_vl", "internvl", "llava_onevision")
DUAL_FAMILIES = ("clip", "siglip", "blip_itm")
# Issue 17's families: (family, the token that stands for the frames in the prompt).
EXTRA_LMM_FAMILIES = {"qwen2_vl": "<|video_pad|>", "llava_next_video": "<video>",
                      "llava_next": "<image>", "video_llava": "<video>",
                      "video_llama_3": "<|video_pad|>",
                      "mllama": "<|image|>"}

PROMPTS = ["a red car on the road", "a blue dog", "a cat sitting on a chair",
           "people walking in the city at night"]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """family -> folder of a tiny random checkpoint (all families, built once)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from videojury.models.tiny import FAMILIES, build_tiny

    root = tmp_path_factory.mktemp("tiny_models")
    out = {fam: build_tiny(fam, root / fam) for fam in FAMILIES}
    from ._vbench_ckpts import write_all  # VBench's official weight files, tiny and seeded

    out.update(write_all(root / "vbench"))
    from ._image_scorer_ckpts import write_all as write_image_scorers  # laion head, tiny HPSv2

    out.update(write_image_scorers(root / "image_scorers"))
    from ._vqa_ckpts import write_all as write_vqa  # FAST-VQA / DOVER files, tiny and seeded

    out.update(write_vqa(root / "vqa"))
    from videojury.metrics.vbench._musiq import TINY, random_musiq_checkpoint

    (root / "musiq").mkdir()
    out["musiq_tiny"] = random_musiq_checkpoint(root / "musiq" / "musiq_spaq_ckpt-358bb6af.pth",
                                                0, TINY)  # a MUSIQ file, small widths
    from ._resnet_vqa_ckpts import resnet50_state, vsfa_state, write  # VSFA's files, seeded

    rv = root / "resnet_vqa"
    rv.mkdir()
    out["resnet50"] = write(rv / "resnet50-0676ba61.pth", resnet50_state(0))
    out["vsfa_model"] = write(rv / "VSFA.pt", vsfa_state(0))
    return out


@pytest.fixture(scope="session")
def family_models(tmp_path_factory) -> dict[str, Path]:
    """family -> folder of a tiny random checkpoint of the seed table's remaining open LMM
    families (issue 17: Qwen2-VL, LLaVA-NeXT-Video, LLaVA-NeXT, Video-LLaVA, VideoLLaMA3,
    Llama 3.2 Vision), built once per session and only by the tests that ask for them."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from videojury.models.tiny import EXTRA_FAMILIES, build_tiny

    root = tmp_path_factory.mktemp("tiny_family_models")
    return {fam: build_tiny(fam, root / fam) for fam in EXTRA_FAMILIES}


@pytest.fixture(scope="session")
def tiny_videos(tmp_path_factory) -> list[str]:
    """Four short mp4 clips of different lengths and sizes (seeded noise on a base image)."""
    from videojury.video import write_video

    root = tmp_path_factory.mktemp("vlm_videos")
    rng = np.random.default_rng(7)
    paths = []
    for i, (t, h, w) in enumerate([(12, 48, 64), (16, 48, 64), (9, 64, 48), (20, 48, 64)]):
        base = rng.integers(0, 255, (1, h, w, 3)).astype(np.float32)
        drift = np.linspace(0, 40, t)[:, None, None, None]
        frames = np.clip(base + drift + rng.normal(0, 12, (t, h, w, 3)), 0, 255).astype(np.uint8)
        p = root / f"clip{i}.mp4"
        write_video(p, frames, fps=8)
        paths.append(str(p))
    return paths


@pytest.fixture(autouse=False)
def offline(monkeypatch, tmp_path):
    """No network and an empty Hugging Face cache for the duration of a test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
    yield


def require_models() -> None:
    """Skip the calling module when the [models] extra is not installed."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
