"""``vqascore:preset=t2v_metrics`` against t2v_metrics 3.0's own Qwen2.5-VL / Qwen2-VL scorer.

The reference numbers below come from ``benchmarks/parity/t2v_metrics/reference.py``:
t2v_metrics' ``Qwen2VLModel.forward`` run unchanged (with qwen-vl-utils 0.0.14,
decord reading the files) on the tiny seeded checkpoints and the lossless clips
of ``benchmarks/parity/t2v_metrics/inputs.py``, which this test rebuilds from
the same seeds. "file": each clip as a video file; "array": the frames
qwen-vl-utils' 8 fps rule picks from the clip, as a ``.npy`` frames array
(videojury gets the whole clip in memory and picks the same frames).
"""

from __future__ import annotations

import json

import pytest

from videojury.data.items import Item
from videojury.errors import MetricError
from videojury.metrics import load_metric
from videojury.video import frames_from_array, sample

from ._parity_scripts import load_script
from ._vlm_models import require_models

require_models()

inputs = load_script("t2v_metrics/inputs.py", "t2v_parity_inputs")

# t2v_metrics' scores (float32 probabilities), per family, clip and prompt of inputs.PROMPTS
REFERENCE = {
    "qwen2_5_vl": {
        "file": {"clip0": [0.0005462986882776022, 0.00042220178875140846],
                 "clip1": [0.0002117548865498975, 0.00013634897186420858],
                 "clip2": [0.0006371415220201015, 0.0005075197550468147]},
        "array": {"clip0": [0.0005478623206727207, 0.0004231693164911121],
                  "clip1": [0.00021534586267080158, 0.00013901187048759311],
                  "clip2": [0.0006381398416124284, 0.0005086591118015349]}},
    "qwen2_vl": {
        "file": {"clip0": [0.0059643033891916275, 0.00832903478294611],
                 "clip1": [0.004218363668769598, 0.01596137322485447],
                 "clip2": [0.0045806835405528545, 0.00747855706140399]},
        "array": {"clip0": [0.005987448152154684, 0.008287458680570126],
                  "clip1": [0.004255914594978094, 0.01604205183684826],
                  "clip2": [0.004580292850732803, 0.007493983488529921]}},
}
# the frames qwen-vl-utils read (decord, 8 fps rule)
INDICES = {"clip0": [0, 1, 2, 3, 4, 5, 6, 7], "clip1": [0, 3, 6, 10, 13, 16, 19, 23, 26, 29],
           "clip2": [0, 2, 4, 6, 8, 10]}
# every Qwen2.5-VL clip; one Qwen2-VL clip (the same code path; the others in the table
# were checked when pinned and are kept for a rerun with more cases)
CASES = [("qwen2_5_vl", i) for i in range(len(inputs.CLIPS))] + [("qwen2_vl", 1)]
ABS, REL = 1e-6, 1e-5  # measured: 7.1e-10 absolute, 1.1e-6 relative (float32 softmax)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("t2v_preset")
    clips = inputs.write_clips(root / "clips")
    ckpts, metrics = {}, {}
    for family in REFERENCE:
        ckpts[family] = inputs.build_checkpoint(root / f"tiny_{family}", family=family)
        metrics[family] = load_metric(f"vqascore:model={ckpts[family]},preset=t2v_metrics")
    return ckpts, clips, metrics


def _check(got, want):
    for g, w in zip(got, want):
        assert abs(g - w) <= ABS and abs(g - w) <= REL * w, (got, want)


@pytest.mark.parametrize("family, i", CASES)
def test_file_matches_t2v_metrics(setup, family, i):
    _, clips, metrics = setup
    metric = metrics[family]
    frames = sample(clips[i], metric.frame_policy())
    assert frames.indices.tolist() == INDICES[f"clip{i}"]
    got = [metric.score_batch([frames], [Item(str(clips[i]), prompt=p)])[0]["vqascore"]
           for p in inputs.PROMPTS]
    _check(got, REFERENCE[family]["file"][f"clip{i}"])


@pytest.mark.parametrize("family, i", CASES)
def test_array_matches_t2v_metrics(setup, family, i):
    metric = setup[2][family]
    fps = inputs.CLIPS[i][3]
    frames = frames_from_array(inputs.clip_frames(i), fps, metric.frame_policy())
    assert frames.indices.tolist() == INDICES[f"clip{i}"]
    got = [metric.score_batch([frames], [Item("<memory>", prompt=p)])[0]["vqascore"]
           for p in inputs.PROMPTS]
    _check(got, REFERENCE[family]["array"][f"clip{i}"])


def test_score_run_matches_and_differs_from_default(setup, tmp_path):
    """The whole pipeline (manifest, decoder, executor) gives the reference numbers; the
    default protocol gives other numbers on the same clip (the preset is not a no-op)."""
    import videojury

    ckpt, clips = setup[0]["qwen2_5_vl"], setup[1]
    df = videojury.score([str(clips[1])] * 2, prompts=list(inputs.PROMPTS),
                         metrics=[f"vqascore:model={ckpt},preset=t2v_metrics"])
    _check(df["vqascore"].tolist(), REFERENCE["qwen2_5_vl"]["file"]["clip1"])
    plain = videojury.score([str(clips[1])], prompts=[inputs.PROMPTS[0]],
                            metrics=[f"vqascore:model={ckpt}"])
    assert abs(plain["vqascore"].iloc[0] - REFERENCE["qwen2_5_vl"]["file"]["clip1"][0]) > 1e-6


def test_default_key_unchanged_and_preset_keyed(setup):
    ckpt = setup[0]["qwen2_5_vl"]
    plain = json.loads(load_metric(f"vqascore:model={ckpt}").options_key)
    assert "preset" not in plain
    keyed = json.loads(load_metric(f"vqascore:model={ckpt},preset=t2v_metrics").options_key)
    assert keyed["preset"] == "t2v_metrics"


@pytest.mark.parametrize("extra, word", [("frames=8", "frames"),
                                         ("template=x {prompt}", "template"),
                                         ("renormalize=true", "renormalize"),
                                         ("sampling=uniform", "sampling")])
def test_preset_refuses_the_options_it_fixes(setup, extra, word):
    with pytest.raises(MetricError, match=f"drop {word}="):
        load_metric(f"vqascore:model={setup[0]['qwen2_5_vl']},preset=t2v_metrics,{extra}")


def test_unknown_preset_and_hosted_model():
    with pytest.raises(MetricError, match="preset='t2v' is not known"):
        load_metric("vqascore:model=qwen2.5-vl-7b,preset=t2v")
    with pytest.raises(MetricError, match="hosted model"):
        load_metric("vqascore:model=openai:gpt-4o,base_url=http://127.0.0.1:9/v1,"
                    "preset=t2v_metrics")


def test_other_family_refused(tmp_path):
    from videojury.models.tiny import build_tiny

    ckpt = build_tiny("video_llava", tmp_path / "video_llava")
    metric = load_metric(f"vqascore:model={ckpt},preset=t2v_metrics")
    # refused before any frame is read or weight loaded, naming the family
    with pytest.raises(MetricError, match="scorers for the families .*'video_llava'"):
        metric.frame_policy()


def test_smart_size_rule():
    from videojury.metrics.vlm.t2v_preset import smart_size

    # upscaled to the 128-token minimum; capped to 360*420; rounded to 28 (values from
    # qwen-vl-utils 0.0.14's smart_resize; 20,000 random sizes agreed with it)
    assert smart_size(48, 64, 28, 128 * 784, 360 * 420) == (280, 392)
    assert smart_size(720, 1280, 28, 128 * 784, 360 * 420) == (280, 504)
    assert smart_size(336, 448, 28, 128 * 784, 360 * 420) == (336, 448)
    assert smart_size(50, 38, 28, 128 * 784, 602112) == (364, 280)
    # the frame-list path's factor of 56
    assert smart_size(48, 64, 56, 4 * 56 * 56, 16384 * 56 * 56) == (112, 168)
    with pytest.raises(MetricError, match="aspect ratio"):
        smart_size(2, 500, 28, 128 * 784, 360 * 420)
