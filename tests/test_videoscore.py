"""videoscore2 / videoscore2_prob: VideoScore2's released prompt, frames and score rules.

The rules are checked on their own (regular expression, score-token search,
argmax x normalised probability) and end to end on a tiny Qwen2.5-VL trained
to write VideoScore2's answer format (``_vs2_tiny``); that the whole chain
equals the released script's steps with qwen-vl-utils reading the frames is
``benchmarks/parity/videoscore/vs2_parity.py`` (it needs qwen-vl-utils).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from videojury.errors import MetricError
from videojury.metrics.base import load_metric
from videojury.metrics.vlm.videoscore import (VS2_TEMPLATE, parse_vs2, smart_size,
                                              vs2_query)
from videojury.video.sampling import FramePolicy, qwen_vl_indices


def test_query_is_the_released_template():
    q = vs2_query("a cat.")
    assert q.startswith("\n    You are an expert for evaluating AI-generated videos")
    assert "\n    Video prompt: a cat.\n" in q
    # the format lines keep the script's trailing spaces and indentation
    assert ("    visual quality: <v_score>; \n    text-to-video alignment: <t_score>, \n"
            "    physical/common-sense consistency: <p_score>\n    ") in q
    assert q.endswith("<p_score>\n    ") and "$" not in q
    assert VS2_TEMPLATE.count("\u2013") == 3


@pytest.mark.parametrize("text,want", [
    ("visual quality: 3; \ntext-to-video alignment: 4, \nphysical/common-sense consistency: 2",
     (3, 4, 2)),
    ("VISUAL QUALITY:5 blah\n\nText-to-Video Alignment: 1 ... physical/common-sense "
     "consistency:   4", (5, 1, 4)),
    ("visual quality: 12; text-to-video alignment: 0, physical/common-sense consistency: 3",
     (12, 0, 3)),  # the released pattern takes any integer
    ("visual quality: 3.5; text-to-video alignment: 4, physical/common-sense consistency: 2",
     (3, 4, 2)),  # the released pattern reads "3.5" as 3
    ("text-to-video alignment: 4, visual quality: 3, physical/common-sense consistency: 2", None),
    ("visual quality: 3; text-to-video alignment: 4", None),
])
def test_released_pattern(text, want):
    assert parse_vs2(text) == want


def test_qwen_vl_frames_rule():
    # N / fps * 2 frames, even, at least 4, at most N; linspace(0, N-1, n) rounded
    assert qwen_vl_indices(16, 8.0).tolist() == [0, 5, 10, 15]
    assert qwen_vl_indices(240, 24.0).tolist() == np.rint(np.linspace(0, 239, 20)).tolist()
    assert qwen_vl_indices(3, 30.0).tolist() == [0, 2]
    assert len(qwen_vl_indices(5000, 1.0)) == 768
    assert qwen_vl_indices(1, 8.0).size == 0
    assert FramePolicy.qwen_vl(2.0).describe() == "qwen_vl(2)"


def test_smart_size():
    # small frames are upscaled to at least 128 patches, multiples of 28
    h, w = smart_size(56, 84, 4)
    assert h % 28 == 0 and w % 28 == 0 and h * w >= 128 * 28 * 28
    assert (h, w) == (280, 392)  # qwen-vl-utils 0.0.14 smart_resize gives the same
    # large frames capped at 768 patches
    h, w = smart_size(1080, 1920, 20)
    assert h * w <= 768 * 28 * 28 and (h, w) == (560, 1008)  # as qwen-vl-utils
    with pytest.raises(MetricError, match="aspect"):
        smart_size(2, 900, 4)


def test_normed_rule_and_token_search():
    torch = pytest.importorskip("torch")
    from videojury.metrics.vlm.videoscore import normed_digit_score, score_step

    class Tok:  # digits are their own ids; decode joins them
        def encode(self, s, add_special_tokens=False):
            return [int(s)]

    logits = torch.log(torch.tensor([1e-9, 0.1, 0.2, 0.3, 0.25, 0.15]))
    # argmax digit 3, p = 0.3 / (0.1+0.2+0.3+0.25+0.15) = 0.3
    assert normed_digit_score(logits, Tok()) == pytest.approx(0.9, abs=1e-4)
    # mass outside the digits does not matter: renormalised over 1-5
    logits2 = torch.log(torch.tensor([10.0, 0.0, 0.0, 0.0, 1.0, 1.0]) + 1e-30)
    assert normed_digit_score(logits2, Tok()) == pytest.approx(2.0, abs=1e-4)  # 4 x 0.5

    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = list("abcdefghijklmnopqrstuvwxyz:;,/- \n0123456789")
    tk = Tokenizer(models.WordLevel({c: i for i, c in enumerate(chars)}, unk_token="a"))
    tk.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk)
    text = "visual quality: 3; \ntext-to-video alignment: 4, \nphysical/common-sense consistency: 2"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    for label, digit in (("visual quality:", "3"), ("text-to-video alignment:", "4"),
                         ("physical/common-sense consistency:", "2")):
        step = score_step(label, tok, ids)
        assert tok.decode(ids[step:step + 1]) == digit
        assert tok.decode(ids[:step + 1]).endswith(label + " " + digit)
    assert score_step("dynamic degree:", tok, ids) == -1


def test_option_errors():
    with pytest.raises(MetricError, match="frames= is not taken"):
        load_metric("videoscore2", frames=8)
    with pytest.raises(MetricError, match="decoding"):
        load_metric("videoscore2", decoding="beam")
    with pytest.raises(MetricError, match="needs decoding=sample"):
        load_metric("videoscore2", samples=4)
    m = load_metric("videoscore2_prob", decoding="sample", samples=3, seed=5)
    assert m.frame_policy().mode == "qwen_vl"
    assert [f.name for f in m.fields] == ["vs2_visual_prob", "vs2_alignment_prob",
                                          "vs2_physical_prob"]


# --- end to end on a tiny trained model ---------------------------------------

PROMPT = "a red car on the road"


@pytest.fixture(scope="module")
def vs2_model(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from ._vs2_tiny import build_tiny_vs2, tiny_video

    root = tmp_path_factory.mktemp("vs2")
    video = tiny_video(root / "train.mp4")
    return build_tiny_vs2(root / "model", video, PROMPT), video, root


def _score(name, model, video, **opts):
    from videojury.data.items import Item
    from videojury.video.decode import sample

    m = load_metric(name, model=str(model), **opts)
    frames = sample(video, m.frame_policy())
    return m, frames, m.score_batch([frames], [Item(video=str(video), prompt=PROMPT)])[0]


@pytest.mark.slow
def test_end_to_end_greedy_sampled_and_errors(vs2_model, tmp_path):
    import json

    from ._vs2_tiny import tiny_video

    from videojury.data.items import Item

    model, video, root = vs2_model
    log = tmp_path / "vs2.jsonl"
    m, frames, got = _score("videoscore2", model, video, rationale_log=str(log))
    assert frames.indices.tolist() == [0, 5, 10, 15]
    # the trained model writes "visual quality: 3; ... alignment: 4, ... consistency: 2"
    assert got == {"vs2_visual": 3.0, "vs2_alignment": 4.0, "vs2_physical": 2.0}
    rec = json.loads(log.read_text().splitlines()[0])
    assert rec["answers"][0]["text"].startswith("visual quality: 3;")
    _, _, again = _score("videoscore2", model, video)
    assert again == got  # greedy: same numbers every run

    _, _, prob = _score("videoscore2_prob", model, video)
    for axis, hard in (("visual", 3), ("alignment", 4), ("physical", 2)):
        v = prob[f"vs2_{axis}_prob"]
        assert 0.0 < v <= hard and v > hard * 0.5  # argmax digit x its (renormalised) p
        assert v == round(v, 4)

    # the released sampling: seeded, reproducible, averaged over draws
    _, _, s1 = _score("videoscore2_prob", model, video, decoding="sample", samples=2, seed=3)
    _, _, s2 = _score("videoscore2_prob", model, video, decoding="sample", samples=2, seed=3)
    assert s1 == s2
    assert s1 != prob  # T=0.7 sharpens the processed scores the rule reads

    # an answer without the pattern is an error for that video, with the text quoted
    from videojury.models.tiny import build_tiny

    plain = build_tiny("qwen2_5_vl", root / "plain")
    other = tiny_video(tmp_path / "o.mp4", frames=12)
    m2 = load_metric("videoscore2", model=str(plain), max_new_tokens=8)
    from videojury.video.decode import sample

    fr = sample(other, m2.frame_policy())
    with pytest.raises(MetricError, match="score pattern is not in the answer"):
        m2.score_batch([fr], [Item(video=str(other), prompt=PROMPT)])
    assert not math.isnan(got["vs2_visual"])


# --- VideoScore v1 / v1.1 ------------------------------------------------------

def test_vs1_frames_and_prompt():
    from videojury.metrics.vlm.videoscore import VS1_TEMPLATE, vs1_query
    from videojury.video.sampling import float_stride_indices

    assert float_stride_indices(20, 16).tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13,
                                                     15, 16, 17, 18]
    assert float_stride_indices(7, 16).tolist() == list(range(7))
    for n in (49, 100, 241, 1000):
        assert float_stride_indices(n, 48).tolist() == np.arange(0, n, n / 48).astype(int).tolist()
    q = vs1_query("a cat", 3)
    assert q.startswith(VS1_TEMPLATE.replace("{text_prompt}", "a cat"))
    assert q.endswith('all the frames of video are as follows:\n<image> <image> <image> ')
    assert load_metric("videoscore").n_frames() == 48
    assert load_metric("videoscore", model="TIGER-Lab/VideoScore").n_frames() == 16
    with pytest.raises(MetricError, match="frames= is not taken"):
        load_metric("videoscore", frames=8)


@pytest.fixture(scope="module")
def vs1_model(tmp_path_factory):
    pytest.importorskip("torch")
    from ._vs1_tiny import build_tiny_vs1

    return build_tiny_vs1(tmp_path_factory.mktemp("vs1") / "model")


def _vs1(model, video, **opts):
    from videojury.data.items import Item
    from videojury.video.decode import sample

    m = load_metric("videoscore", model=str(model), **opts)
    fr = sample(video, m.frame_policy())
    return fr, m.score_batch([fr], [Item(video=str(video), prompt=PROMPT)])[0]


def test_vs1_scores_head_and_pooling(vs1_model, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    from transformers import AutoProcessor, Idefics2Model

    from ._vs1_tiny import tiny_vs1_config_and_processor
    from ._vs2_tiny import tiny_video
    from videojury.metrics.vlm.videoscore import vs1_query

    video = tiny_video(tmp_path / "v.mp4", frames=20)
    fr48, s48 = _vs1(vs1_model, video)
    fr16, s16 = _vs1(vs1_model, video, max_frames=16)
    assert len(fr48) == 20 and len(fr16) == 16
    assert list(s48) == ["vs1_visual_quality", "vs1_temporal_consistency", "vs1_dynamic_degree",
                         "vs1_text_alignment", "vs1_factual_consistency"]
    assert s48 != s16 and _vs1(vs1_model, video)[1] == s48  # frames matter; reruns agree

    # independently: Idefics2Model + the linear head at the last token (no pad in the prompt)
    cfg, _ = tiny_vs1_config_and_processor()
    state = load_file(str(vs1_model / "model.safetensors"))
    body = Idefics2Model(cfg)
    body.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("model.")})
    proc = AutoProcessor.from_pretrained(vs1_model)
    from PIL import Image

    inputs = proc(text=vs1_query(PROMPT, 20), images=[Image.fromarray(a) for a in fr48.array],
                  return_tensors="pt")
    with torch.no_grad():
        h = body.eval()(**inputs, use_cache=False).last_hidden_state[0, -1]
        want = (h @ state["score.weight"].T + state["score.bias"]).tolist()
    assert np.allclose(list(s48.values()), want, atol=1e-6)

    # Mantis' pooling: the position before the first pad token; with pad = <unk> (which
    # this vocabulary writes for unknown prompt words, before any image) the frames
    # cannot change the score
    import json

    conf = json.loads((vs1_model / "config.json").read_text())
    padded = tmp_path / "padded"
    import shutil

    shutil.copytree(vs1_model, padded)
    conf["pad_token_id"] = 0
    (padded / "config.json").write_text(json.dumps(conf))
    a = _vs1(padded, video)[1]
    b = _vs1(padded, tiny_video(tmp_path / "w.mp4", frames=9, h=40, w=90))[1]
    assert a == b and a != s48


def test_vs1_strict_keys(vs1_model, tmp_path):
    pytest.importorskip("torch")
    import shutil

    from safetensors.torch import load_file, save_file

    from ._vs2_tiny import tiny_video

    video = tiny_video(tmp_path / "v.mp4", frames=8)
    state = load_file(str(vs1_model / "model.safetensors"))
    for name, change, msg in (
            ("missing", lambda s: s.pop("score.bias"), "1 missing key"),
            ("extra", lambda s: s.__setitem__("lm_head.weight", s["score.weight"].clone()),
             "1 unexpected"),
            ("three", lambda s: s.update({"score.weight": s["score.weight"][:3],
                                          "score.bias": s["score.bias"][:3]}), "3 outputs")):
        d = tmp_path / name
        shutil.copytree(vs1_model, d)
        s = dict(state)
        change(s)
        save_file(s, str(d / "model.safetensors"))
        with pytest.raises(MetricError, match=msg):
            _vs1(d, video)
