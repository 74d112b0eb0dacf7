"""``vqascore:preset=t2v_metrics`` on InternVL against t2v_metrics 3.0's own ``InternVL2Model``.

The reference numbers below come from ``benchmarks/parity/t2v_metrics/internvl_reference.py``:
t2v_metrics' ``InternVL2Model.forward`` run unchanged, with OpenGVLab's own model code
(transformers 4.49.0, t2v_metrics' pin; remote code from the checkpoint folder) and
decord, on the tiny seeded InternVL3 in OpenGVLab's layout (:func:`videojury.models.
internvl_chat.build_tiny_chat`, seed 0) and the lossless clips of
``benchmarks/parity/t2v_metrics/inputs.py``. This test rebuilds both from their seeds
and runs videojury's native ``InternVLForConditionalGeneration`` on the folder
:func:`convert_folder` writes.
"file": each clip as a .avi; "array": the clip's frames in memory (in the reference,
``load_video`` over a stand-in reader: t2v_metrics' ``.npy`` path takes single images).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from videojury.data.items import Item
from videojury.errors import MetricError
from videojury.metrics import load_metric
from videojury.video import frames_from_array, sample

from ._parity_scripts import load_script
from ._vlm_models import require_models

require_models()

inputs = load_script("t2v_metrics/inputs.py", "t2v_parity_inputs_ivl")

# t2v_metrics' scores (float32 probabilities) per clip, for inputs.PROMPTS, under
# transformers 4.49 (t2v_metrics' pin); the file and in-memory runs of the reference gave the
# same numbers (decord's frames are the array's).
REFERENCE = {"clip0": [0.0006681079976260662, 0.0006083410698920488],
             "clip1": [0.0010612476617097855, 0.0010519203497096896],
             "clip2": [0.0018315165070816875, 0.0015014623058959842]}
# t2v_metrics' get_video_index(num_segments=16) on decord's frame counts (8, 30, 11)
INDICES = {"clip0": [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 7],
           "clip1": [0, 2, 4, 5, 7, 9, 11, 13, 14, 16, 18, 20, 22, 24, 25, 27],
           "clip2": [0, 1, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9, 9]}
ABS, REL = 1e-6, 1e-5  # measured: 5.6e-9 absolute, 3.1e-6 relative (float32 softmax)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from videojury.models.internvl_chat import build_tiny_chat, convert_folder

    root = tmp_path_factory.mktemp("t2v_internvl")
    clips = inputs.write_clips(root / "clips")
    original = build_tiny_chat(root / "original", seed=0)
    native = convert_folder(original, root / "native")
    metric = load_metric(f"vqascore:model={native},preset=t2v_metrics")
    return SimpleNamespace(clips=clips, original=original, native=native, metric=metric,
                           root=root)


def _check(got, want):
    for g, w in zip(got, want):
        assert abs(g - w) <= ABS and abs(g - w) <= REL * w, (got, want)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_file_matches_t2v_metrics(setup, i):
    frames = sample(setup.clips[i], setup.metric.frame_policy())
    assert frames.indices.tolist() == INDICES[f"clip{i}"]
    got = [setup.metric.score_batch([frames], [Item(str(setup.clips[i]), prompt=p)])[0]
           ["vqascore"] for p in inputs.PROMPTS]
    _check(got, REFERENCE[f"clip{i}"])


@pytest.mark.parametrize("i", [1, 2])
def test_array_matches_t2v_metrics(setup, i):
    frames = frames_from_array(inputs.clip_frames(i), inputs.CLIPS[i][3],
                               setup.metric.frame_policy())
    assert frames.indices.tolist() == INDICES[f"clip{i}"]
    got = [setup.metric.score_batch([frames], [Item("<memory>", prompt=p)])[0]["vqascore"]
           for p in inputs.PROMPTS]
    _check(got, REFERENCE[f"clip{i}"])


def test_score_run_matches_and_prompts_differ(setup):
    """The whole pipeline gives the reference numbers, and the two prompts' scores differ
    by far more than the tolerance (the check can fail)."""
    import videojury

    df = videojury.score([str(setup.clips[2])] * 2, prompts=list(inputs.PROMPTS),
                         metrics=[f"vqascore:model={setup.native},preset=t2v_metrics"])
    _check(df["vqascore"].tolist(), REFERENCE["clip2"])
    assert abs(REFERENCE["clip2"][0] - REFERENCE["clip2"][1]) > 100 * ABS
    # the converted folder also runs the default vqascore (its processor's chat template
    # and ImageNet normalisation), which gives another number (the preset is not a no-op)
    plain = videojury.score([str(setup.clips[2])], prompts=[inputs.PROMPTS[0]],
                            metrics=[f"vqascore:model={setup.native}"])
    assert abs(plain["vqascore"].iloc[0] - REFERENCE["clip2"][0]) > 1e-5


# the same under a tokenizer that puts <s> first (build_tiny_chat(bos=True), reference run
# with --bos): t2v_metrics' answer id encode("Yes")[0] is then the BOS, and P(BOS) is scored
BOS_REFERENCE = {"clip1": [3.04121016370118e-07, 3.3010769584507216e-07]}


def test_bos_tokenizer_scores_the_bos(setup):
    from videojury.models.internvl_chat import build_tiny_chat, convert_folder

    native = convert_folder(build_tiny_chat(setup.root / "original_bos", seed=0, bos=True),
                            setup.root / "native_bos")
    metric = load_metric(f"vqascore:model={native},preset=t2v_metrics")
    tok = metric.backbone().tokenizer
    assert tok.encode("Yes")[0] == tok.convert_tokens_to_ids("<s>")
    frames = sample(setup.clips[1], metric.frame_policy())
    got = [metric.score_batch([frames], [Item(str(setup.clips[1]), prompt=p)])[0]["vqascore"]
           for p in inputs.PROMPTS]
    _check(got, BOS_REFERENCE["clip1"])


def test_query_layout():
    from videojury.metrics.vlm.t2v_preset_internvl import query

    got = query("SYS", "a cat", 2, 3)
    ctx = "<img>" + "<IMG_CONTEXT>" * 3 + "</img>"
    assert got == ("<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n"
                   f"Frame1: {ctx}\nFrame2: {ctx}\n"
                   'Does this figure show "a cat"? Please answer Yes or No.<|im_end|>\n'
                   "<|im_start|>assistant\n")


def test_converted_config_and_template(setup):
    from videojury.metrics.vlm.t2v_preset_internvl import template_of
    from videojury.models.internvl_chat import TEMPLATE_SYSTEM

    cfg = json.loads((setup.native / "config.json").read_text(encoding="utf-8"))
    assert cfg["architectures"] == ["InternVLForConditionalGeneration"]
    assert cfg["opengvlab_template"] == "internvl2_5"
    proc = json.loads((setup.native / "processor_config.json").read_text(encoding="utf-8"))
    assert proc["image_processor"]["image_mean"] == [0.485, 0.456, 0.406]
    assert template_of(SimpleNamespace()) == ("internvl2_5", TEMPLATE_SYSTEM)
    assert template_of(SimpleNamespace(opengvlab_system_message="S"))[1] == "S"
    with pytest.raises(MetricError, match="names 'internlm2-chat'"):
        template_of(SimpleNamespace(opengvlab_template="internlm2-chat"))


def test_converter_is_strict(setup, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from videojury.models.internvl_chat import convert_folder

    sd = load_file(str(setup.original / "model.safetensors"))
    for name, change, match in (
            ("extra", lambda d: d.update({"vision_model.encoder.layers.0.extra":
                                           d["mlp1.0.bias"].clone()}),
             "no place in InternViT"),
            ("missing", lambda d: d.pop("mlp1.3.bias"), "missing 1 keys"),
            ("shape", lambda d: d.update({"mlp1.3.bias": d["mlp1.3.bias"][:3].clone()}),
             "shape mismatch at model.multi_modal_projector.linear_2.bias")):
        folder = tmp_path / name
        shutil.copytree(setup.original, folder)
        bad = dict(sd)
        change(bad)
        save_file(bad, str(folder / "model.safetensors"))
        with pytest.raises(MetricError, match=match):
            convert_folder(folder, tmp_path / f"{name}_out")
    with pytest.raises(MetricError, match="not OpenGVLab's 'internvl_chat'"):
        convert_folder(setup.native, tmp_path / "again")


def test_refusals(setup):
    with pytest.raises(MetricError, match="drop frames="):
        load_metric(f"vqascore:model={setup.native},preset=t2v_metrics,frames=8")
    # the original layout is not loaded directly: it is converted first
    metric = load_metric(f"vqascore:model={setup.original},preset=t2v_metrics")
    with pytest.raises(MetricError, match="families.*python -m videojury.models.internvl_chat"):
        metric.frame_policy()


def test_other_image_size_refused(tmp_path):
    """t2v_metrics always feeds 448-pixel frames; a vision tower of another size is refused
    by name before any frame is scored."""
    from videojury.models.tiny import build_tiny

    ckpt = build_tiny("internvl", tmp_path / "internvl_28px")
    metric = load_metric(f"vqascore:model={ckpt},preset=t2v_metrics")
    assert metric.frame_policy().n == 16
    frames = frames_from_array(inputs.clip_frames(0), 8.0, metric.frame_policy())
    with pytest.raises(MetricError, match="vision tower takes 28"):
        metric.score_batch([frames], [Item("<memory>", prompt="a cat")])
