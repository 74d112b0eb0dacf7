"""Every metric's numbers are pinned to its version.

A metric's ``version`` is part of every store key: stored scores are reused
as long as name, version, options (and, for model metrics, the checkpoint,
dtype and device kind) match. So a change to a metric's numbers must come
with a version bump, or stores silently mix old and new numbers. This test
scores a fixed synthetic clip (lossless FFV1) with every registered metric,
on tiny seeded random checkpoints for the model metrics, and compares with
the table below. When numbers move:

* if the metric's version is still the one in the table, the test fails with
  "metric X changed its numbers without a version bump": bump ``version`` in
  the metric's class (and re-pin here);
* if the version was bumped, the test fails until the table holds the new
  version and values (print them with ``VIDEOJURY_REPIN=1 pytest -s
  tests/test_metric_versions.py``).

Tolerances: classical and temporal metrics are numpy float64 and must agree
to 1e-7 relative; the tiny models' float32 CPU forward passes to 1e-4 (other
CPUs may round kernels differently; real changes move far more).
"""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

import videojury
from videojury.data.synthetic import ClipSpec, degrade, make_clip
from videojury.metrics.base import list_metrics, metric_class
from videojury.video import write_video

from ._vlm_models import tiny_models  # noqa: F401  (fixture)

PROMPT = "a sunset over the sea"
QUESTION = "Is there a car in the video?"
REPIN = os.environ.get("VIDEOJURY_REPIN") == "1"

# metric -> (spec, version, {field: value}); "{clip}" etc. are tiny checkpoints,
# "{lmm}" a tiny Qwen2.5-VL. The rationale judge's tiny model writes no
# readable score: its pinned outcome is that error (its parser is pinned below).
PINS: dict[str, tuple[str, str, dict[str, float] | str]] = {
    "brisque": ("brisque", "1",
        {"brisque": 40.68402227572699}),
    "dynamic_degree": ("dynamic_degree", "1",
        {"dynamic_degree": 0.0470252730838594, "is_dynamic": 1.0}),
    "flicker": ("flicker", "1",
        {"flicker": 0.9685024043584824}),
    "temporal_flickering": ("temporal_flickering", "1",
        {"temporal_flickering": 0.9685024043584824}),
    "frozen": ("frozen", "1",
        {"frozen_ratio": 0.17391304347826086, "frozen_longest": 0.17391304347826086}),
    "motion_smoothness": ("motion_smoothness", "1",
        {"motion_smoothness": 0.977747289730286}),
    "niqe": ("niqe", "1",
        {"niqe": 13.566145793841331}),
    "bmpri": ("bmpri", "2",
        {"bmpri": 88.09743158122845}),
    "bpri": ("bpri", "2",
        {"bpri": 0.015655668776976838}),
    "hosa": ("hosa", "1",
        {"hosa": 27.413269459086848}),
    "qac": ("qac", "1",
        {"qac": 0.733754578496276}),
    "piqe": ("piqe", "1",
        {"piqe": 29.134644302865162}),
    "clipscore": ("clipscore:model={clip},frames=4", "1",
        {"clipscore": 0.7577247619628906, "clip_cosine": 0.3030899167060852}),
    "clip_temporal": ("clip_temporal:model={clip},frames=4", "1",
        {"clip_temporal": 0.9902353286743164, "clip_temporal_vbench": 0.9903228282928467}),
    "pickscore": ("pickscore:model={clip},frames=4", "1",
        {"pickscore": 4.329595565795898, "pickscore_cosine": 0.3030899167060852}),
    "siglip_score": ("siglip_score:model={siglip},frames=4", "1",
        {"siglip_prob": 0.4537196457386017, "siglip_cosine": -0.18566833436489105}),
    "blip_itm": ("blip_itm:model={blip_itm},frames=4", "1",
        {"blip_itm": 0.4610370397567749, "blip_itc_cosine": -0.10360684990882874}),
    "vqascore": ("vqascore:model={lmm},frames=2", "1",
        {"vqascore": 0.0002675168798305094}),
    "qa": ("qa:model={lmm},frames=2", "1",
        {"qa_p_yes": 0.0008316709427163005, "qa_p_yes_norm": 0.10368931240695774, "qa_yes": 0.0}),
    "level_judge": ("level_judge:model={lmm},frames=2", "1",
        {"level_score": 20.54286021274423, "level": 1.0}),
    "judge_correspondence": ("judge_correspondence:model={lmm},frames=2", "1",
        {"judge_correspondence": 7.51099160545775, "judge_correspondence_level": 1.0}),
    "judge_dynamic_degree": ("judge_dynamic_degree:model={lmm},frames=2", "1",
        {"judge_dynamic_degree": 24.826124652884594, "judge_dynamic_degree_level": 2.0}),
    "judge_physical_consistency": ("judge_physical_consistency:model={lmm},frames=2", "1",
        {"judge_physical_consistency": 55.34227841100731,
         "judge_physical_consistency_level": 3.0}),
    "judge_quality": ("judge_quality:model={lmm},frames=2", "1",
        {"judge_quality": 20.54286021274423, "judge_quality_level": 1.0}),
    "judge_static_quality": ("judge_static_quality:model={lmm},frames=2", "1",
        {"judge_static_quality": 31.61620188313512, "judge_static_quality_level": 1.0}),
    "judge_temporal_smoothness": ("judge_temporal_smoothness:model={lmm},frames=2", "1",
        {"judge_temporal_smoothness": 55.525137027685275, "judge_temporal_smoothness_level": 4.0}),
    "judge_text_alignment": ("judge_text_alignment:model={lmm},frames=2", "1",
        {"judge_text_alignment": 36.95292011178132, "judge_text_alignment_level": 2.0}),
    "judge_visual_quality": ("judge_visual_quality:model={lmm},frames=2", "1",
        {"judge_visual_quality": 20.86097601975548, "judge_visual_quality_level": 1.0}),
    "rationale_judge": ("rationale_judge:model={lmm},frames=2,max_new_tokens=8", "1",
        "could not read a 1-5 score"),
    "videoscore2": ("videoscore2:model={lmm},max_new_tokens=8", "1",
        "score pattern is not in the answer"),
    "videoscore2_prob": ("videoscore2_prob:model={lmm},max_new_tokens=8", "1",
        "score pattern is not in the answer"),
    "videoscore": ("videoscore:model={lmm}", "1", "not VideoScore's"),
    "aesthetic_quality": ("aesthetic_quality:model={vbench_clip_l14},head={vbench_aesthetic}",
        "1", {"aesthetic_quality": 0.5985729694366455}),
    "appearance_style": ("appearance_style:model={vbench_clip_b32},style=Van Gogh style", "1",
        {"appearance_style": -0.06575274591644605}),
    "background_consistency": ("background_consistency:model={vbench_clip_b32}", "1",
        {"background_consistency": 0.9988794313824695}),
    "laion_aesthetic": ("laion_aesthetic:model={clip},head={laion_head},frames=4", "1",
        {"laion_aesthetic": -0.369476318359375}),
    "imagereward": ("imagereward:weights={ir_weights},med_config={ir_med_config},"
                    "tokenizer={ir_tokenizer},frames=4", "1",
        {"imagereward": 0.4399653971195221}),
    "hpsv2": ("hpsv2:weights={hps_weights},arch={hps_arch},frames=4", "1",
        {"hpsv2": -0.32732439041137695}),
    "fga_blip2": ("fga_blip2:model={fga_weights},tokenizer={fga_tokenizer},frames=4", "1",
        {"fga_blip2": 1.6396114826202393}),
    "overall_consistency": ("overall_consistency:model={vbench_viclip}", "1",
        {"overall_consistency": 0.3653953969478607}),
    "temporal_style": ("temporal_style:model={vbench_viclip}", "1",
        {"temporal_style": 0.3653953969478607}),
    "subject_consistency": ("subject_consistency:model={vbench_dino}", "1",
        {"subject_consistency": 0.9981535543566165}),
    "imaging_quality": ("imaging_quality:model={musiq_tiny}", "1",
        {"imaging_quality": 0.4237307437260946, "musiq": 42.37307437260946}),
    "musiq": ("musiq:model={musiq_tiny}", "1",
        {"musiq": 42.37307437260946}),
    "vsfa": ("vsfa:model={vsfa_model},backbone={resnet50}", "1",
        {"vsfa": -0.6314408183097839}),
    "fast_vqa": ("fast_vqa:model={vqa_fast}", "1",
        {"fast_vqa": 0.994715819017349, "fast_vqa_raw": 0.10866416245698929}),
    "faster_vqa": ("faster_vqa:model={vqa_fast}", "1",
        {"faster_vqa": 0.25400068764656775, "faster_vqa_raw": 0.10866416245698929}),
    "dover": ("dover:model={vqa_dover}", "1",
        {"dover": 3.3151802059125355e-05, "dover_technical": -0.5613699555397034,
         "dover_aesthetic": -0.5416964888572693}),
}

BUILTIN = sorted(n for n in list_metrics()
                 if metric_class(n).__module__.startswith("videojury.metrics."))


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> str:
    clip = degrade(make_clip(11, ClipSpec(width=128, height=112, frames=24, fps=12.0)),
                   "noise", 1)
    clip[14:19] = clip[14]  # a frozen stretch, so frozen's numbers are not just zeros
    path = tmp_path_factory.mktemp("pin") / "clip.mkv"
    return str(write_video(path, clip, fps=12.0, codec="ffv1", crf=None, pix_fmt="bgr0"))


# Metrics whose numbers a parity test holds instead (a tiny LOVE takes about a minute a clip
# on the CPU, its Swin3D-T being of fixed size; SimpleVQA's networks are full size): metric -> the test file that pins them against
# the reference's own outputs. The three LOVE aspects are one network asked three prompts
# (test_love.py checks the prompts; its parity test holds perception's score and logits).
PINNED_BY_PARITY = {
    "love_perception": "test_love.py", "love_correspondence": "test_love.py",
    "love_qa": "test_love.py",
    # full-size ResNet-50 + SlowFast R50 on 8 one-second rows: its parity test's REF numbers
    "simplevqa": "test_vqa_simplevqa.py",
}


def test_every_builtin_metric_is_pinned():
    from pathlib import Path

    for name, test in PINNED_BY_PARITY.items():
        assert name in (Path(__file__).parent / test).read_text(), (name, test)
    missing = [n for n in BUILTIN if n not in PINS and n not in PINNED_BY_PARITY]
    assert not missing, (f"metric(s) {missing} have no pin: add them to PINS in "
                         "tests/test_metric_versions.py")
    assert not [n for n in PINS if n not in BUILTIN], "PINS names a metric that is gone"


def _measure(name: str, models: dict | None, clip_path: str) -> dict[str, float] | str:
    spec = PINS[name][0]
    if "{" in spec:
        assert models is not None
        spec = spec.format(lmm=models["qwen2_5_vl"], **{k: str(v) for k, v in models.items()})
    items = pd.DataFrame({"video": [clip_path], "prompt": [PROMPT], "question": [QUESTION]})
    df = videojury.score(items, metrics=[spec])
    if df["error"][0] is not None:
        return str(df["error"][0])
    return {f.name: float(df[f.name][0]) for f in metric_class(name).fields}


def _check(name: str, got: dict[str, float] | str) -> None:
    spec, pinned_version, want = PINS[name]
    version = str(metric_class(name).version)
    if REPIN:
        print(f"    {name!r}: ({spec!r}, {version!r}, {got!r}),")
        return
    assert version == pinned_version, (
        f"metric {name} is at version {version} but PINS holds version {pinned_version}: "
        f"re-pin its values for version {version} (VIDEOJURY_REPIN=1)")
    rel = 1e-4 if metric_class(name).extra else 1e-7
    if isinstance(want, str):
        changed = not isinstance(got, str) or want not in got
    else:
        changed = isinstance(got, str) or set(got) != set(want) or not all(
            math.isclose(got[k], want[k], rel_tol=rel, abs_tol=1e-9) for k in want)
    assert not changed, (f"metric {name} changed its numbers without a version bump "
                         f"(version {version}): got {got!r}, pinned {want!r}; bump "
                         f"{metric_class(name).__name__}.version and re-pin")


WEIGHT_FREE = [n for n in PINS if "{" not in PINS[n][0]]
MODEL = [n for n in PINS if "{" in PINS[n][0]]


@pytest.mark.parametrize("name", WEIGHT_FREE)
def test_weight_free_metric_numbers_match_their_version(name, clip_path):
    _check(name, _measure(name, None, clip_path))


@pytest.mark.models
@pytest.mark.parametrize("name", MODEL)
def test_model_metric_numbers_match_their_version(name, tiny_models, clip_path,  # noqa: F811
                                                 monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _check(name, _measure(name, tiny_models, clip_path))


# The rationale judge's numbers come from its parser: pinned on fixed answers.
RATIONALE_TEXTS = {
    "visual quality: 4 (sharp); text-to-video alignment: 3; physical/common-sense "
    "consistency: 2 because the car floats": {"visual_quality": 4.0, "text_alignment": 3.0,
                                              "physical_consistency": 2.0},
}


def test_rationale_parser_numbers_match_its_version():
    from videojury.metrics.vlm.rationale import parse_rationale

    assert metric_class("rationale_judge").version == PINS["rationale_judge"][1]
    for text, want in RATIONALE_TEXTS.items():
        got = {k: float(v[0]) for k, v in parse_rationale(text).items()}
        assert got == want, ("metric rationale_judge changed its numbers without a version "
                             f"bump: parsed {got} from {text!r}, pinned {want}")
