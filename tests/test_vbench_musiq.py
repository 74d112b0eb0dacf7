"""VBench's imaging_quality (MUSIQ trained on SPAQ) and plain ``musiq``: parity with VBench's
own ``vbench/imaging_quality.py`` (pyiqa's MUSIQ) on seeded random weights, strict loading
of the released checkpoint layout, VBench's preprocessing modes, the missing-weights
message.

The reference numbers come from ``benchmarks/parity/vbench/musiq_reference.py`` (VBench
commit 45e79ec, pyiqa 0.1.16, torch 2.14.1 CPU float32) with the checkpoint of
``random_musiq_checkpoint(seed=SEED, cfg=TINY)`` on the clips of :func:`write_musiq_clips`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SEED = 0


def write_musiq_clips(folder: str | Path) -> dict[str, Path]:
    """Small textured clips (x264, byte-identical per run): one wider than 512 (VBench's
    default mode resizes it), one small, one portrait (widths multiples of 32:
    decord, which VBench reads with, mis-sizes some narrower ones)."""
    from tests._vbench_clips import _texture
    from videojury.video import write_video

    specs = [("wide", 2, 64, 600), ("small", 3, 72, 96), ("tall", 2, 160, 64)]
    folder = Path(folder)
    out = {}
    for i, (name, n, h, w) in enumerate(specs):
        rng = np.random.default_rng(200 + i)
        tex = _texture(rng, h + 16, w + 16)
        frames = np.stack([tex[t * 4:t * 4 + h, t * 3:t * 3 + w] for t in range(n)])
        out[name] = write_video(folder / f"{name}.mp4", frames, fps=8.0)
    return out


# VBench's per-video values (technical_quality's video_results, MUSIQ's 0-100 scale).
# Measured difference: 0 on every clip and mode.
REFERENCE: dict[str, dict[str, float]] = {
    "wide": {"longer": 38.57455825805664, "None": 36.378456115722656},
    "small": {"longer": 34.771385192871094},
    "tall": {"longer": 34.34200668334961},
}


torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from videojury.errors import MetricError  # noqa: E402
from videojury.metrics.base import load_metric  # noqa: E402
from videojury.metrics.vbench import _musiq as vm  # noqa: E402
from videojury.metrics.vbench.imaging import vbench_transform  # noqa: E402
from videojury.video import sample  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return vm.random_musiq_checkpoint(tmp_path_factory.mktemp("musiq")
                                      / "musiq_spaq_ckpt-358bb6af.pth", SEED, vm.TINY)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return write_musiq_clips(tmp_path_factory.mktemp("clips"))


def _score(spec: str, path: Path) -> dict[str, float]:
    m = load_metric(spec)
    return m.score(sample(str(path), m.frame_policy()), None)


@pytest.mark.parametrize("name,mode", [("wide", "longer"), ("small", "longer"),
                                       ("tall", "longer")])
def test_parity_with_vbench(ckpt, clips, name, mode):
    opt = "none" if mode == "None" else mode
    got = _score(f"imaging_quality:model={ckpt},device=cpu,preprocess={opt}", clips[name])
    assert got["musiq"] == pytest.approx(REFERENCE[name][mode], abs=1e-4)
    assert got["imaging_quality"] == pytest.approx(got["musiq"] / 100, rel=1e-12)


def test_batching_changes_only_rounding(ckpt, clips):
    one = _score(f"imaging_quality:model={ckpt},device=cpu,batch_size=1", clips["tall"])
    many = _score(f"imaging_quality:model={ckpt},device=cpu,batch_size=2", clips["tall"])
    assert many["musiq"] == pytest.approx(one["musiq"], abs=1e-5)


def test_plain_musiq_is_the_unresized_score(ckpt, clips):
    # VBench's mode 'None' (no resize) on the clip wider than 512
    got = _score(f"musiq:model={ckpt},device=cpu", clips["wide"])
    assert got["musiq"] == pytest.approx(REFERENCE["wide"]["None"], abs=1e-4)
    assert load_metric("musiq").options["preprocess"] == "none"
    assert load_metric("imaging_quality").options["preprocess"] == "longer"  # VBench's default


def test_vbench_transform_sizes():
    x = torch.full((1, 3, 600, 700), 255.0)
    assert tuple(vbench_transform(x, "longer").shape[-2:]) == (438, 512)
    assert tuple(vbench_transform(x, "shorter").shape[-2:]) == (512, 597)
    assert tuple(vbench_transform(x, "shorter_centercrop").shape[-2:]) == (512, 512)
    assert tuple(vbench_transform(x, "none").shape[-2:]) == (600, 700)
    assert float(vbench_transform(x, "none").max()) == 1.0
    small = torch.zeros(1, 3, 300, 500)  # nothing over 512: no resize, no crop
    for mode in ("longer", "shorter", "shorter_centercrop"):
        assert tuple(vbench_transform(small, mode).shape[-2:]) == (300, 500)


def test_multiscale_tokens_layout():
    cfg = vm.MusiqConfig()
    t = vm.multiscale_tokens(torch.zeros(1, 3, 100, 200), cfg)
    # 224 scale: 112x224 -> 4x7 patches padded to 49; 384: 192x384 -> 6x12 of 144; native 4x7
    assert t.patches.shape == (1, 49 + 144 + 28, 3, 32, 32)
    assert int(t.mask[0, :49].sum()) == 28 and int(t.mask[0, 49:193].sum()) == 72
    assert bool(t.mask[0, 193:].all())
    assert t.scale[0, 193:].unique().tolist() == [2] and t.scale[0, 49:121].unique().tolist() == [1]
    # hashed positions on the 10x10 grid: the first patch 0; the last of the 6x12 scale has
    # row 5 -> 8 and column 11 -> 9, so 89
    assert int(t.pos[0, 49]) == 0 and int(t.pos[0, 49 + 71]) == 89


def test_strict_loading(ckpt, tmp_path):
    state = torch.load(ckpt, weights_only=True)
    prefixed = tmp_path / "dp.pth"
    torch.save({"module." + k: v for k, v in state.items()}, prefixed)
    loaded = vm.load_musiq(prefixed).state_dict()
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)
    assert vm.config_from_state(state) == vm.TINY
    extra = tmp_path / "extra.pth"
    torch.save({**state, "head.extra": torch.zeros(1)}, extra)
    with pytest.raises(MetricError, match="unexpected: head.extra"):
        vm.load_musiq(extra)
    missing = tmp_path / "missing.pth"
    torch.save({k: v for k, v in state.items() if "gn_proj" not in k}, missing)
    with pytest.raises(MetricError, match="missing: block1.gn_proj"):
        vm.load_musiq(missing)
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"params": state}, wrapped)
    with pytest.raises(MetricError, match="state dict"):
        vm.load_musiq(wrapped)
    foreign = tmp_path / "foreign.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, foreign)
    with pytest.raises(MetricError, match="not a MUSIQ checkpoint"):
        vm.load_musiq(foreign)


def test_distribution_head_scores_between_one_and_ten(tmp_path):
    cfg = vm.MusiqConfig(width=48, mlp=96, layers=1, classes=10)  # AVA's 10-bin head
    net = vm.load_musiq(vm.random_musiq_checkpoint(tmp_path / "ava.pth", 1, cfg))
    with torch.no_grad():
        s = net(torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(0)))
    assert s.shape == (2,) and bool(((s > 1) & (s < 10)).all())


def test_missing_weights_message(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOJURY_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    m = load_metric("imaging_quality")
    with pytest.raises(MetricError) as exc:
        m.identity(lambda p: "x")
    msg = str(exc.value)
    assert "musiq_spaq_ckpt-358bb6af.pth" in msg and "IQA-PyTorch/releases" in msg
    assert "Nothing downloads by itself" in msg and "curl" in msg
    assert str(tmp_path / "vb" / "pyiqa_model") in msg  # VBench's own cache folder


def test_bad_preprocess_is_one_message():
    with pytest.raises(MetricError, match="preprocess.*longer, shorter, shorter_centercrop"):
        load_metric("imaging_quality:preprocess=center")


def test_bench_writes_vbench_scale(ckpt, tmp_path, monkeypatch):
    # VBench's protocol: per-video values on MUSIQ's 0-100 scale, the dimension mean / 100.
    import json

    from videojury.bench import check_videos
    from videojury.bench.vbench import run_vbench
    from videojury.data.suites import load_suite
    from videojury.video import write_video

    monkeypatch.setenv("VIDEOJURY_WEIGHTS", str(Path(ckpt).parent))  # the file's own name
    suite = tmp_path / "VBench_full_info.json"
    info = [{"prompt_en": "a quiet street", "dimension": ["imaging_quality"]},
            {"prompt_en": "a red ball", "dimension": ["temporal_flickering"]}]
    suite.write_text(json.dumps(info))
    rng = np.random.default_rng(7)
    for p in ("a quiet street", "a red ball"):
        write_video(tmp_path / "v" / "m" / f"{p}-0.mp4",
                    rng.integers(0, 256, (2, 32, 64, 3), dtype=np.uint8), fps=8)
    res = run_vbench(check_videos(load_suite(suite), tmp_path / "v"), ["imaging_quality"])
    mean, per_video = res.eval_results["m"]["imaging_quality"]
    assert [v["video_path"].endswith("a quiet street-0.mp4") for v in per_video] == [True]
    direct = _score(f"imaging_quality:model={ckpt},device=cpu",
                    tmp_path / "v" / "m" / "a quiet street-0.mp4")
    assert per_video[0]["video_results"] == pytest.approx(direct["musiq"], rel=1e-12)
    assert mean == pytest.approx(direct["musiq"] / 100, rel=1e-12)
