"""fga_blip2 against EvalMuse's own FGA_Blip2 (issue 15, item 2).

The reference numbers come from ``benchmarks/parity/fga_blip2/reference.py``
(EvalMuse's ``lavis`` code: ``FGA_Blip2.element_score`` with LAVIS's image and
caption processors, on transformers 4.46) run on the seeded checkpoint that
``benchmarks/parity/fga_blip2/weights.py`` writes in the official format; this
test regenerates the same checkpoint and checks videojury's metric (on
transformers' BLIP-2 classes) against them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

PARITY = Path(__file__).resolve().parents[1] / "benchmarks" / "parity" / "fga_blip2"

# reference.py /tmp/fgaref/EvalMuse OUT: mean over the 4 frames of element_score's alignment, per clip
REFERENCE = [1.8034079670906067, 2.955689549446106, 1.7361181378364563]
# its P(match) per text token ([CLS] a red car , on the road [SEP]), clip 0, frame 0
TOKENS_0 = [2.0054514493494935e-08, 1.5750476450193673e-05, 0.8837056756019592, 3.5823783939292753e-09,
            0.024007242172956467, 0.05684155598282814, 0.27491965889930725, 0.0002261075278511271,
            0.00015646946849301457]


@pytest.fixture(scope="module")
def fga(tmp_path_factory):
    sys.path.insert(0, str(PARITY))
    try:
        sys.modules.pop("weights", None)
        import weights
        files = weights.make(tmp_path_factory.mktemp("fga"))
        files["prompts"] = list(weights.PROMPTS)
        files["state"] = weights.state_dict()
    finally:
        sys.path.pop(0)
        sys.modules.pop("weights", None)
    return files


@pytest.fixture(scope="module")
def metric(fga):
    from videojury.metrics import load_metric

    return load_metric("fga_blip2", model=str(fga["weights"]), tokenizer=str(fga["tokenizer"]))


def test_fga_blip2_matches_evalmuse(fga, metric):
    clips = list(np.load(fga["frames"]))
    got = [r["fga_blip2"] for r in metric.batch(clips, fps=8.0, prompts=fga["prompts"])]
    assert got == pytest.approx(REFERENCE, abs=1e-5)  # measured: 2.7e-7
    assert all(1.0 <= g <= 5.0 for g in got)
    # per frame and per token too (element_score's second output), batched over frames
    from videojury.video import frames_from_array

    frames = frames_from_array(clips[0], 8.0, metric.frame_policy()).array
    align, toks = metric.frame_scores(list(frames), fga["prompts"][0])
    assert align.shape == (4,) and toks.shape == (4, len(TOKENS_0))
    assert toks[0] == pytest.approx(TOKENS_0, abs=1e-5)  # measured: 1e-6
    # a frame alone scores as in a batch of four
    metric.batch_size = 1
    try:
        assert metric.frame_scores(list(frames[2:3]), fga["prompts"][0])[0][0] == pytest.approx(align[2], abs=1e-6)
    finally:
        metric.batch_size = 8


def test_caption_cleaning_and_element_scores(fga, metric):
    from videojury.metrics.vlm.fga_blip2 import pre_caption

    assert pre_caption("A cat (sitting) on a chair.") == "a cat sitting on a chair"
    assert pre_caption('  "Hi"!!  there ~ ') == "hi there"
    assert pre_caption(" ".join(["w"] * 60)) == " ".join(["w"] * 50)
    from videojury.video import frames_from_array

    frame = frames_from_array(np.load(fga["frames"])[0], 8.0, metric.frame_policy()).array[0]
    got = metric.element_scores(frame, fga["prompts"][0], ["red car (object)", "road (location)",
                                                           "dog (animal)", "no bracket"])
    # eval.py: mean P(match) over the element's token span in "[CLS] a red car , on the road [SEP]"
    assert got["red car (object)"] == pytest.approx((TOKENS_0[2] + TOKENS_0[3]) / 2, abs=1e-5)
    assert got["road (location)"] == pytest.approx(TOKENS_0[7], abs=1e-5)
    assert got["dog (animal)"] == 0.0 and got["no bracket"] == 0.0


def test_checkpoint_is_converted_strictly(fga, tmp_path):
    import torch

    from videojury.errors import MetricError
    from videojury.metrics import load_metric
    from videojury.metrics.vlm.fga_blip2 import build, convert, read_checkpoint

    state = read_checkpoint(fga["weights"])
    assert set(state) == set(fga["state"])
    out, sizes = convert(dict(state))
    assert sizes["queries"] == 32 and sizes["freq"] == 2 and sizes["grid"] * sizes["patch"] == 42
    # EVA's q/v biases become one qkv bias with a zero key part
    qkv = out["vision_model.encoder.layers.1.self_attn.qkv.bias"]
    w = sizes["width"]
    assert torch.equal(qkv[w:2 * w], torch.zeros(w))
    assert torch.equal(qkv[:w], state["visual_encoder.blocks.1.attn.q_bias"])
    with pytest.raises(MetricError, match="tensors FGA-BLIP2 does not: extra.weight"):
        convert({**state, "extra.weight": torch.zeros(1)})
    with pytest.raises(MetricError, match="layer scale or relative position bias"):
        convert({**state, "visual_encoder.blocks.0.gamma_1": torch.zeros(w)})
    with pytest.raises(MetricError, match="lacks the tensors for qformer.layernorm.weight"):
        convert({k: v for k, v in state.items() if k != "Qformer.bert.embeddings.LayerNorm.weight"})
    partial = {k: v for k, v in state.items() if "layer.1.output_query.dense.weight" not in k}
    with pytest.raises(MetricError, match="missing: qformer.encoder.layer.1.output_query.dense.weight"):
        build(partial)
    with pytest.raises(MetricError, match="lacks itm_head.weight"):
        convert({k: v for k, v in state.items() if not k.startswith("itm_head.")})
    # a bare state dict (no {"model": ...} wrapper) is read too; a pickle with code is refused
    bare = tmp_path / "bare.pth"
    torch.save(state, bare)
    assert set(read_checkpoint(bare)) == set(state)
    evil = tmp_path / "evil.pth"
    torch.save({"model": {"a": object()}}, evil)
    with pytest.raises(MetricError, match="not a plain tensor checkpoint"):
        read_checkpoint(evil)
    with pytest.raises(MetricError, match="no such file and not a known weight name"):
        load_metric("fga_blip2", model=str(tmp_path / "absent.pth")).load()


def test_missing_weights_message(tmp_path, monkeypatch):
    from videojury.errors import MetricError
    from videojury.metrics import load_metric
    from videojury.models.checkpoints import WEIGHT_FILES

    wf = WEIGHT_FILES["fga-blip2"]
    assert wf.file == "fga_blip2.pth" and "hanshuhao/FGA-BLIP2" in wf.url
    monkeypatch.setenv("VIDEOJURY_WEIGHTS", str(tmp_path))
    with pytest.raises(MetricError, match=r"(?s)fga_blip2\.pth .* not on this machine.*curl -L -o"):
        load_metric("fga_blip2").load()


def test_seed_baselines_row_runs_fga_blip2():
    from videojury.metrics.baselines import SEED_BASELINES, baseline_status, suite_metrics

    row = next(b for b in SEED_BASELINES if b.name == "FGA-BLIP2")
    assert baseline_status(row)[0] == "needs weights"
    assert "fga_blip2" in suite_metrics("seed-baselines-all")
    assert "fga_blip2" not in suite_metrics("seed-baselines")
