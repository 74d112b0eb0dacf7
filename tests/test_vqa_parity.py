"""FAST-VQA, FasterVQA and DOVER against their official code, on seeded tiny checkpoints.

The reference numbers below come from the official repositories' own
inference scripts (vqa.py, evaluate_one_video.py) run on the same
checkpoint files and clips by benchmarks/parity/{fastvqa,dover}/reference.py
(see their README). The checkpoints regenerate from the seed
(tests/_vqa_ckpts.py), the clips from tests/_vqa_clips.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

sys.path.insert(0, str(Path(__file__).parent))
import _vqa_ckpts as CK  # noqa: E402
import _vqa_clips as CL  # noqa: E402

from videojury.errors import MetricError  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.video import sample  # noqa: E402

# official code, seed 0 (benchmarks/parity/*/reference.py), per clip
REF_FASTER = {"synth_320x240_150.mp4": -0.21416888, "synth_200x150_40.mp4": -0.37709159}
REF_DOVER = {  # technical, aesthetic, fused overall
    "synth_320x240_150.mp4": (0.039848629385232925, -0.3556954562664032, 0.032150158953587714),
    "synth_200x150_40.mp4": (-0.0931091457605362, -0.4091005027294159, 0.0063092702152149575),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("vqa")
    clips = CL.write_all(d)
    return {"clips": clips, "fast": CK.write(d / "FAST_VQA_3D_1_1.pth", CK.fastvqa_state(0)),
            "dover": CK.write(d / "DOVER.pth", CK.dover_state(0))}


def _score(metric, path):
    return metric.score(sample(path, metric.frame_policy()), None)


@pytest.mark.slow
def test_faster_vqa_matches_official(files):
    m = load_metric("faster_vqa", model=files["fast"], device="cpu")
    for name, ref in REF_FASTER.items():
        got = _score(m, files["clips"][name])
        assert abs(got["faster_vqa_raw"] - ref) < 1e-6, name
        assert got["faster_vqa"] == pytest.approx(
            1 / (1 + np.exp(-(ref - 0.14759505) / 0.03613452)), abs=1e-6)


@pytest.mark.slow
def test_dover_matches_official(files):
    m = load_metric("dover", model=files["dover"], device="cpu")
    for name, (t, a, o) in REF_DOVER.items():
        got = _score(m, files["clips"][name])
        assert abs(got["dover_technical"] - t) < 1e-6, name
        assert abs(got["dover_aesthetic"] - a) < 1e-6, name
        assert abs(got["dover"] - o) < 1e-6, name


@pytest.mark.slow
def test_batch_equals_one_by_one_and_seed_matters(files):
    m = load_metric("faster_vqa", model=files["fast"], device="cpu")
    paths = list(files["clips"].values())
    frames = [sample(p, m.frame_policy()) for p in paths]
    batch = m.score_batch(frames, [None, None])
    for f, b in zip(frames, batch):
        one = m.score(f, None)
        assert abs(one["faster_vqa_raw"] - b["faster_vqa_raw"]) < 1e-6
    # 320x240: cells of 45x34 px, so the 32x32 patch offsets are drawn: another seed differs
    other = load_metric("faster_vqa", model=files["fast"], device="cpu", seed=1)
    assert abs(_score(other, paths[0])["faster_vqa_raw"] - REF_FASTER[Path(paths[0]).name]) > 1e-5


def test_views_follow_the_official_samplers():
    from videojury.models.vqa import views as V

    # SampleFrames(32, 1, 4) test mode on 150 frames: offsets int(i*29.75 + 14.875)
    idx = V.test_clip_indices(150, 32, 4)
    assert idx.reshape(4, 32)[:, 0].tolist() == [14, 44, 74, 104]
    assert idx.reshape(4, 32)[3, -1] == 135
    # fewer frames than a clip: offset 0, wrapped modulo N
    assert V.test_clip_indices(20, 32, 1).tolist()[:22] == list(range(20)) + [0, 1]
    # DOVER's technical sampler: 3 segments of 50, too short for 64 -> no draw, deterministic
    rng = np.random.RandomState(0)
    t = V.unified_indices(150, 32, 3, 2, rng)
    assert t.reshape(3, 32)[:, 0].tolist() == [0, 50, 100] and t[1] - t[0] == 2
    assert t[31] == 62 and np.random.RandomState(0).randint(9) == rng.randint(9)  # no draw
    with pytest.raises(MetricError, match="too small"):
        V.fragment_plan(30, 200, 32, 32, torch.Generator().manual_seed(0))


def test_checkpoint_conversion_is_strict(tmp_path):
    from videojury.models.vqa.nets import load_dover, load_fastvqa

    st = CK.fastvqa_state(0)
    sd = dict(st["state_dict"])
    sd.pop("vqa_head.fc_last.bias")
    p = CK.write(tmp_path / "a.pth", {"state_dict": sd})
    with pytest.raises(MetricError, match="missing 1 keys.*fc_last.bias"):
        load_fastvqa(p)
    sd = dict(st["state_dict"], **{"fragments_backbone.layers.0.extra.weight": torch.zeros(1)})
    with pytest.raises(MetricError, match="no place"):
        load_fastvqa(CK.write(tmp_path / "b.pth", {"state_dict": sd}))
    with pytest.raises(MetricError, match="not a DOVER checkpoint"):
        load_dover(CK.write(tmp_path / "c.pth", st))
    # a pickled object is refused (weights_only)
    torch.save({"state_dict": st["state_dict"], "obj": _Pickled()}, str(tmp_path / "d.pth"))
    with pytest.raises(MetricError, match="weights-only"):
        load_fastvqa(tmp_path / "d.pth")


class _Pickled:
    pass


def test_table_entries_and_licence():
    from videojury.metrics.base import metric_class
    from videojury.models.checkpoints import WEIGHT_FILES

    assert "NON-COMMERCIAL" in WEIGHT_FILES["dover"].licence
    assert WEIGHT_FILES["fast-vqa-b"].file == "FAST_VQA_B_1_4.pth"
    assert WEIGHT_FILES["faster-vqa"].file == "FAST_VQA_3D_1_1.pth"
    assert "non-commercial" in metric_class("dover").description
    with pytest.raises(MetricError, match="not on this machine"):
        load_metric("fast_vqa", model="fast-vqa-b").weight_path()
