"""The temporal branch of the trainable evaluator (videojury.train.temporal).

Slots: K tokens after the video, anchor moved by K, the branch's tokens in the
decoder's input embeddings exactly there, in left- and right-padded batches.
Training with the branch saves temporal.safetensors and ``trained:DIR``
rebuilds the same branch (same scores); a Swin3D branch starts from an
official-layout checkpoint and refuses a wrong one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.models
torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from videojury.errors import InputError, MetricError  # noqa: E402
from videojury.train import config_from_dict  # noqa: E402
from videojury.train.temporal import (  # noqa: E402
    BACK_KEY,
    SLOT_KEY,
    MotionPathway,
    TemporalBranch,
    TemporalSpec,
    insert_slots,
)


@pytest.fixture(autouse=True)
def _keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_insert_slots_moves_the_anchor_past_k_tokens_after_the_video():
    ids = torch.tensor([[1, 2, 9, 9, 9, 3, 4, 5]])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
              "mm_token_type_ids": torch.tensor([[0, 0, 1, 1, 1, 0, 0, 0]]),
              "pixel_values": torch.zeros(3, 4)}
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    out, anchor = insert_slots(inputs, 6, 4, 0, {9}, frames)
    assert out["input_ids"].tolist() == [[1, 2, 9, 9, 9, 0, 0, 0, 0, 3, 4, 5]]
    assert out["attention_mask"].tolist() == [[1] * 12]
    assert out["mm_token_type_ids"].tolist() == [[0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]]
    assert out["pixel_values"] is inputs["pixel_values"]
    assert anchor == 10 and out["input_ids"][0, anchor] == 4
    assert out[BACK_KEY].tolist() == [anchor - 5]  # first slot at index 5
    assert out[SLOT_KEY].shape == (1, 2, 8, 8, 3)
    with pytest.raises(MetricError, match="no video token"):
        insert_slots(inputs, 6, 4, 0, {77}, frames)


def test_motion_pathway_reads_motion_only_through_the_fast_pathway():
    torch.manual_seed(0)
    net = MotionPathway(8)
    frame = torch.rand(1, 3, 1, 32, 32)
    still = frame.repeat(1, 1, 8, 1, 1)  # one frame held: no motion
    jitter = still.clone()
    jitter[:, :, 1::2] = torch.roll(frame, 3, dims=-1)  # every other frame shifted
    blank = torch.zeros_like(still)
    slow = net.num_features - net.fast[0].out_channels
    with torch.no_grad():
        f_still, f_jitter, f_blank = net(still), net(jitter), net(blank)
    # a still clip's motion features are a blank clip's (the fast pathway reads differences)
    assert torch.equal(f_still[:, slow:], f_blank[:, slow:])
    assert float((f_jitter[:, slow:] - f_still[:, slow:]).abs().max()) > 1e-3
    # frames 0 and 4 (the slow pathway's) are the same in both clips
    assert torch.equal(f_jitter[:, :slow], f_still[:, :slow])


def test_config_checks():
    base = {"base": "x", "output_dir": "o"}
    with pytest.raises(InputError, match="temporal.kind"):
        config_from_dict({**base, "temporal": {"kind": "i3d"}})
    with pytest.raises(InputError, match="temporal.checkpoint"):
        config_from_dict({**base, "temporal": {"kind": "slowfast", "checkpoint": "t.pth"}})
    with pytest.raises(InputError, match="temporal.tokens"):
        config_from_dict({**base, "temporal": {"kind": "slowfast", "tokens": 0}})
    cfg = config_from_dict({**base, "temporal": {"kind": "dover_technical", "tokens": 4}})
    assert cfg.temporal.trainable is False and cfg.temporal.width == 0


def _swin_checkpoint(path: Path, width: int = 12) -> Path:
    """A seeded tiny Swin3D saved in FAST-VQA's key layout (``fragments_backbone.*``)."""
    from videojury.models.vqa.nets import FragmentSwin3D

    torch.manual_seed(3)
    net = FragmentSwin3D(embed_dim=width)
    sd = net.state_dict()
    # torchvision's names back to FAST-VQA's (the inverse of convert_swin_keys)
    out = {}
    for k, v in sd.items():
        if k.endswith("relative_position_index"):
            continue
        parts = k.split(".")
        if parts[0] == "features":
            i = int(parts[1])
            if i % 2 == 0:
                rest = ".".join(parts[3:]).replace("mlp.0.", "mlp.fc1.").replace("mlp.3.",
                                                                                   "mlp.fc2.")
                k = f"layers.{i // 2}.blocks.{parts[2]}.{rest}"
            else:
                k = f"layers.{i // 2}.downsample.{'.'.join(parts[2:])}"
        out["fragments_backbone." + k] = v.clone()
    torch.save({"state_dict": out}, path)
    return path


def test_swin_branch_loads_an_official_layout_checkpoint_strictly(tmp_path):
    ck = _swin_checkpoint(tmp_path / "temporal.pth")
    br = TemporalBranch(TemporalSpec("dover_technical", 4), 32, str(ck))
    assert br.swin_size["embed_dim"] == 12
    sd = torch.load(ck, weights_only=True)["state_dict"]
    w = br.net.patch_embed.proj.weight
    assert torch.equal(w, sd["fragments_backbone.patch_embed.proj.weight"])
    video = torch.randint(0, 255, (1, 2, 64, 64, 3), dtype=torch.uint8)
    with torch.no_grad():
        assert br(video).shape == (1, 4, 32)
    bad = dict(sd)
    bad.pop("fragments_backbone.norm.weight")
    torch.save({"state_dict": bad}, tmp_path / "bad.pth")
    with pytest.raises(MetricError, match="missing 1 keys"):
        TemporalBranch(TemporalSpec("dover_technical", 4), 32, str(tmp_path / "bad.pth"))
    torch.save({"state_dict": {"head.w": torch.zeros(2)}}, tmp_path / "other.pth")
    with pytest.raises(MetricError, match="no Swin3D"):
        TemporalBranch(TemporalSpec("fast_vqa", 4), 32, str(tmp_path / "other.pth"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from videojury.models.tiny import build_tiny

    return build_tiny("qwen2_5_vl", tmp_path_factory.mktemp("tq") / "tiny")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import train_temporal as B

    return B.write_dataset(tmp_path_factory.mktemp("tdata"), clips=4, kind="jitter", seed=0,
                           frames=4)


def _cfg(tiny, data, out, **temporal):
    import train_temporal as B

    c = B.config(tiny, data, out, 0, True, epochs=1, frames=4)
    c["temporal"].update(temporal)
    c["train"]["max_steps"] = 2
    return c


def test_slot_tokens_reach_the_decoder_at_the_slots_in_padded_batches(tiny, data, tmp_path):
    from videojury.models.checkpoints import resolve_checkpoint
    from videojury.models.loading import load_backbone
    from videojury.train.data import FrameCache, frame_policy
    from videojury.train.model import PromptEncoder, build_evaluator, collate, target_prompts
    from videojury.train.temporal import decoder_of

    torch.set_num_threads(1)
    bb = load_backbone(resolve_checkpoint(str(tiny)), "cpu", "float32", False, shared=False)
    from videojury.train.config import TargetConfig

    targets = target_prompts([TargetConfig(name="c", dimension="correspondence")])
    torch.manual_seed(0)
    ev = build_evaluator(bb, targets, lora_names=[], r=0, alpha=1, dropout=0.0,
                         temporal=TemporalSpec("slowfast", 3, 8)).eval()
    enc = PromptEncoder(bb, targets)
    enc.use_temporal(3, bb.model.config)
    seen = {}

    def record(module, args, kwargs):
        seen["emb"] = kwargs["inputs_embeds"].detach().clone()

    decoder_of(ev.hf).register_forward_pre_hook(record, with_kwargs=True)
    frames = FrameCache(frame_policy(4, (56, 56)))
    rows = pd.read_csv(data)
    fr = [frames(str(Path(data).parent / v)) for v in rows["video"][:3]]
    before = [enc.mos_texts(0, p, None, False)[0] for p in ("a", "a cat on a red car " * 3, "")]
    encs = [enc.encode(f, b, b) for f, b in zip(fr, before)]
    lengths = [e.inputs["input_ids"].shape[1] for e in encs]
    assert len(set(lengths)) == 3
    with torch.no_grad():
        alone = [float(ev(e.inputs, torch.tensor([e.anchor]))["preds"][0, 0]) for e in encs]
        tokens = ev.temporal(torch.stack([torch.from_numpy(f.array) for f in fr]))
        for side in ("left", "right"):
            b = collate(encs, enc.slot_id, side)
            got = ev(b["inputs"], b["anchors"])["preds"][:, 0].tolist()
            assert np.allclose(got, alone, atol=1e-5), side
            width = max(lengths)
            for r, e in enumerate(encs):
                shift = width - lengths[r] if side == "left" else 0
                first = e.anchor - int(e.inputs[BACK_KEY][0]) + shift
                assert torch.equal(seen["emb"][r, first:first + 3], tokens[r])
                assert int(e.inputs["input_ids"][0, first - shift - 1]) in enc.vision_ids


def test_training_with_the_branch_saves_it_and_trained_dir_rebuilds_it(tiny, data, tmp_path):
    from videojury.train import load_evaluator, train
    from videojury.train.data import FrameCache, frame_policy

    ck = _swin_checkpoint(tmp_path / "temporal.pth")
    res = train(config_from_dict(_cfg(tiny, data, tmp_path / "run", kind="dover_technical",
                                      checkpoint=str(ck), trainable=False, width=0)))
    folder = Path(res.evaluator_dir)
    assert (folder / "temporal.safetensors").is_file()
    from safetensors.torch import load_file

    saved = load_file(str(folder / "temporal.safetensors"))
    sd = torch.load(ck, weights_only=True)["state_dict"]
    # frozen video net: still the checkpoint's weights; the projector trained
    assert torch.equal(saved["net.patch_embed.proj.weight"],
                       sd["fragments_backbone.patch_embed.proj.weight"])
    ev = load_evaluator(folder, device="cpu")
    assert ev.model.temporal.swin_size["embed_dim"] == 12
    rows = pd.read_csv(folder / "val_predictions.csv")
    frames = FrameCache(frame_policy(4, (56, 56)))
    vids = rows["video"].tolist()[:4]
    torch.set_num_threads(1)  # as in training (train.threads=1): the same float order
    got = ev.score([frames(v if Path(v).is_absolute() else str(Path(data).parent / v))
                    for v in vids], [None] * len(vids))
    want = rows["prediction"].to_numpy()[:4]
    got = np.array([g["quality"] for g in got])
    # measured: equal to 3e-6 at one thread; 1.5e-4 relative apart at two threads (the
    # reduction order changes), deterministic for each thread count
    assert np.allclose(got, want, rtol=0, atol=1e-4)
    with torch.no_grad():  # the rebuilt branch matters far beyond that tolerance
        ev.model.temporal.proj[3].weight.mul_(3.0)
    off = np.array([g["quality"] for g in ev.score(
        [frames(str(Path(data).parent / v) if not Path(v).is_absolute() else v)
         for v in vids], [None] * len(vids))])
    assert np.abs(off - got).max() > 100 * 1e-3 * np.abs(got).max()
    (folder / "temporal.safetensors").write_bytes(b"broken")
    with pytest.raises(MetricError, match="checksum"):
        load_evaluator(folder, device="cpu")


def test_missing_temporal_checkpoint_is_named_before_loading(tiny, data, tmp_path):
    from videojury.train import train

    with pytest.raises(InputError, match="temporal.checkpoint 'nope.pth' is not a file"):
        train(config_from_dict(_cfg(tiny, data, tmp_path / "r", kind="fast_vqa",
                                    checkpoint="nope.pth")))


@pytest.mark.slow
def test_branch_raises_held_out_srcc_when_quality_is_only_visible_over_time(tiny, tmp_path):
    """Jitter at fixed per-frame quality, 12 clips x 4 levels, 8 frames, 8 epochs, seeds
    0 and 1 (benchmarks/train_temporal.py; measured: 0.07 -> 0.59 and 0.18 -> 0.89)."""
    import train_temporal as B

    gains = []
    for seed in (0, 1):
        mos = B.write_dataset(tmp_path / f"d{seed}", clips=12, kind="jitter", seed=seed,
                              frames=8)
        r = B.run_pair(tiny, mos, tmp_path / f"r{seed}", seed, epochs=8, frames=8)
        gains.append(r["with"]["srcc"] - r["without"]["srcc"])
    assert np.mean(gains) > 0.3 and min(gains) > 0
