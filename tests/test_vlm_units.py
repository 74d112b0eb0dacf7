"""Vision-language metrics: the arithmetic and parsing, without running a model.

Level-score arithmetic on hand-set logits, the rationale parser on many
phrasings, template filling, checkpoint resolution, batch planning, and
the errors for a missing checkpoint or folder.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from ._vlm_models import offline, tiny_videos  # noqa: E402,F401 - fixtures

from videojury.errors import MetricError  # noqa: E402
from videojury.metrics import list_metrics, load_metric  # noqa: E402
from videojury.metrics.vlm.level_judge import level_score  # noqa: E402
from videojury.metrics.vlm.prompts import (  # noqa: E402
    DIMENSIONS, LEVEL_WORDS, VQASCORE_TEMPLATE, fill, placeholders)
from videojury.metrics.vlm.qa import parse_yes_no  # noqa: E402
from videojury.metrics.vlm.rationale import (  # noqa: E402
    RationaleParseError, parse_rationale, soft_scores)
from videojury.models.checkpoints import CHECKPOINTS, resolve_checkpoint  # noqa: E402
from videojury.models.lmm import Generation, expected_digit, plan_batches  # noqa: E402

pytestmark = pytest.mark.models

BIG = 50.0  # a logit gap that puts essentially all mass on one word


# --- level-score arithmetic ---------------------------------------------------

@pytest.mark.parametrize("word, score, level", [
    ("excellent", 100.0, 5), ("good", 75.0, 4), ("fair", 50.0, 3), ("poor", 25.0, 2),
    ("bad", 0.0, 1)])
def test_level_score_one_hot(word, score, level):
    logits = np.zeros(5)
    logits[LEVEL_WORDS.index(word)] = BIG
    s, lv, p = level_score(logits)
    assert s == pytest.approx(score, abs=1e-9)
    assert lv == level
    assert p.sum() == pytest.approx(1.0)


def test_level_score_uniform_is_fair():
    s, lv, p = level_score([0.3] * 5)
    assert s == pytest.approx(50.0)
    assert np.allclose(p, 0.2)
    assert lv == 5  # ties go to the better level


def test_level_score_two_words():
    # Equal mass on good (4) and poor (2): expected level 3 -> 50.
    logits = [-BIG, 1.0, -BIG, 1.0, -BIG]
    assert level_score(logits)[0] == pytest.approx(50.0)
    # p(excellent) = 0.75, p(bad) = 0.25 -> E = 0.75*5 + 0.25*1 = 4 -> 75.
    logits = [math.log(3.0), -BIG, -BIG, -BIG, 0.0]
    s, lv, p = level_score(logits)
    assert p[0] == pytest.approx(0.75)
    assert s == pytest.approx(75.0)
    assert lv == 5


def test_level_score_ignores_shared_offset_and_reads_logprobs():
    logits = np.array([2.0, 1.0, 0.5, -1.0, -3.0])
    a = level_score(logits)[0]
    b = level_score(logits - 17.0)[0]  # log-probabilities differ by a constant
    assert a == pytest.approx(b)
    p = np.exp(logits) / np.exp(logits).sum()
    expected = (p * np.array([5, 4, 3, 2, 1])).sum()
    assert a == pytest.approx((expected - 1) / 4 * 100)


def test_level_score_rejects_bad_input():
    with pytest.raises(ValueError):
        level_score([1.0, 2.0])
    with pytest.raises(MetricError):
        level_score([0, 0, np.nan, 0, 0])


def test_expected_digit():
    lp = np.log(np.array([0.0, 0.0, 0.5, 0.5, 0.0]) + 1e-300)
    assert expected_digit(lp) == pytest.approx(3.5)
    # Renormalised over the digits: mass elsewhere in the vocabulary does not count.
    assert expected_digit(np.log([0.01, 0.01, 0.01, 0.01, 0.06])) == pytest.approx(
        (1 + 2 + 3 + 4) * 0.1 + 5 * 0.6)


# --- templates -----------------------------------------------------------------

def test_fill_and_placeholders():
    assert fill(VQASCORE_TEMPLATE, prompt="a cat") == \
        'Does this video show "a cat"? Please answer yes or no.'
    assert fill("{prompt} {other}", prompt="x") == "x {other}"
    assert fill("braces {prompt} stay {}", prompt="p") == "braces p stay {}"
    assert placeholders("Q: {question}?") == {"question"}
    # A prompt with braces in it is inserted verbatim, not re-expanded.
    assert fill("<{prompt}>", prompt="{question}") == "<{question}>"


def test_dimension_table_is_complete():
    for key, dim in DIMENSIONS.items():
        assert dim.needs_prompt == ("prompt" in placeholders(dim.question)), key
        assert dim.prefix and not dim.prefix.endswith(" ")
        assert f"judge_{key}" in list_metrics()


# --- the rationale parser --------------------------------------------------------

CANONICAL = {"visual_quality": 4.0, "text_alignment": 3.0, "physical_consistency": 5.0}


@pytest.mark.parametrize("answer", [
    "visual quality: 4\ntext alignment: 3\nphysical consistency: 5",
    "Visual Quality: 4\nText Alignment: 3\nPhysical Consistency: 5",
    "VISUAL QUALITY:4  TEXT ALIGNMENT:3  PHYSICAL CONSISTENCY:5",
    "physical consistency: 5\nvisual quality: 4\ntext alignment: 3",  # any order
    "**Visual quality**: 4/5\n**Text-to-video alignment**: 3/5\n"
    "**Physical/common-sense consistency**: 5/5",
    "The video is sharp. visual quality = 4; text alignment = 3; physical consistency = 5.",
    "Visual quality - 4 out of 5. Text alignment - 3 out of 5. Physical consistency - 5 out of 5.",
    "visual quality:  4 , text-video alignment : 3 , physical / common-sense consistency:5",
    "Rationale: the colours are fine but the dog has five legs.\n"
    "visual quality (1-5): 4\ntext alignment (1-5): 3\nphysical consistency (1-5): 5",
    "Visual quality is 4. Text alignment is 3. Physical consistency is 5.",
    # The last mention wins: a draft score is revised in the summary.
    "visual quality: 2 at first glance...\nFinal: visual quality: 4\ntext alignment: 3\n"
    "physical consistency: 5",
    "- Visual quality: **4**\n- Text alignment: **3**\n- Physical consistency: **5**",
])
def test_parse_rationale_phrasings(answer):
    got = parse_rationale(answer)
    assert {k: v for k, (v, _) in got.items()} == CANONICAL
    for value, pos in got.values():
        assert answer[pos] == str(int(value))  # the position points at the digit


@pytest.mark.parametrize("answer", [
    "",
    "The video looks great overall.",
    "visual quality: 4\ntext alignment: 3",  # one axis missing
    "visual quality: 9\ntext alignment: 3\nphysical consistency: 5",  # out of range
    "visual quality: good\ntext alignment: fair\nphysical consistency: bad",  # words, no numbers
])
def test_parse_rationale_unparseable_is_an_error(answer):
    with pytest.raises(RationaleParseError) as err:
        parse_rationale(answer)
    assert "could not read" in str(err.value)


def test_parse_rationale_short_axis_names():
    # Short names are read too, and each number goes to exactly one axis.
    got = parse_rationale("Alignment: 2\nQuality: 5\nPhysics: 1")
    assert {k: v for k, (v, _) in got.items()} == {
        "visual_quality": 5.0, "text_alignment": 2.0, "physical_consistency": 1.0}
    text = "physical/common-sense consistency: 2\nvisual quality: 3\ntext alignment: 4"
    got = parse_rationale(text)
    assert len({pos for _, pos in got.values()}) == 3


def test_soft_scores_from_digit_distribution():
    text = "visual quality: 4\ntext alignment: 3\nphysical consistency: 5"
    tokens = text.replace("\n", " \n ").split(" ")
    offsets, pos = [], 0
    for t in tokens:
        idx = text.index(t, pos)
        offsets.append(idx)
        pos = idx + len(t)
    steps = {i for i, t in enumerate(tokens) if t in "12345" and t}
    lp = {}
    for i in steps:
        d = int(tokens[i])
        p = np.full(5, 0.05)
        p[d - 1] = 0.8
        lp[i] = np.log(p)
    gen = Generation(text, list(range(len(tokens))), offsets, lp)
    soft = soft_scores(parse_rationale(text), gen)
    for axis, value in CANONICAL.items():
        expect = sum((k + 1) * (0.8 if k + 1 == value else 0.05) for k in range(5))
        assert soft[axis] == pytest.approx(expect)
    # Without a digit distribution at that place the soft score is the value written.
    bare = Generation(text, list(range(len(tokens))), offsets, {})
    assert soft_scores(parse_rationale(text), bare) == CANONICAL


@pytest.mark.parametrize("answer, want", [
    ("Yes", "yes"), ("yes.", "yes"), ("No", "no"), ("no, it does not", "no"),
    ("**Yes**", "yes"), ("Answer: no", "no"), ("yes or no", None), ("maybe", None)])
def test_yes_no_answers(answer, want):
    assert parse_yes_no(answer) == want


# --- batches, checkpoints, errors -------------------------------------------------

def test_plan_batches_groups_shapes_and_sorts_by_length():
    keys = ["a", "b", "a", "a", "b", "a"]
    lengths = [50, 10, 20, 40, 5, 30]
    batches = plan_batches(keys, lengths, 2)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for b in batches:
        assert len({keys[i] for i in b}) == 1 and len(b) <= 2
        assert [lengths[i] for i in b] == sorted(lengths[i] for i in b)
    assert batches[0] == [2, 5]  # shortest "a" prompts first


def test_checkpoint_table_and_resolution(tmp_path):
    for name in ("qwen2.5-vl-7b", "qwen3-vl-8b", "internvl3-8b", "llava-onevision-7b",
                 "clip-vit-l-14", "siglip-so400m", "pickscore", "blip-itm-large"):
        ck = resolve_checkpoint(name)
        assert ck.memory_gb > 0 and ck.download_commands()
    assert CHECKPOINTS["internvl3-8b"].source == "OpenGVLab/InternVL3-8B-hf"
    pick = CHECKPOINTS["pickscore"]
    assert pick.download_commands() == ["hf download yuvalkirstain/PickScore_v1",
                                        "hf download laion/CLIP-ViT-H-14-laion2B-s32B-b79K"]
    # Frame conventions: LOVE (8 frames by LOVE's rule at 448x448) and Qwen (fps, pixel budget).
    pol = CHECKPOINTS["internvl3-8b"].frames.policy()
    assert pol.mode == "love" and pol.n == 8 and pol.resize.size == (448, 448)
    pol = CHECKPOINTS["qwen2.5-vl-7b"].frames.policy()
    assert pol.mode == "fps" and pol.rate == 2.0 and pol.resize.max_pixels
    assert CHECKPOINTS["qwen2.5-vl-7b"].frames.policy(frames=4).n == 4
    assert resolve_checkpoint("someone/some-model").source == "someone/some-model"
    with pytest.raises(MetricError, match="Did you mean"):
        resolve_checkpoint("qwen2.5-vl-7")
    with pytest.raises(MetricError, match="no config.json"):
        resolve_checkpoint(str(tmp_path))


def test_options_are_checked():
    with pytest.raises(MetricError, match="must contain"):
        load_metric("vqascore", template="Is this a video?")
    with pytest.raises(MetricError, match="must contain"):
        load_metric("qa", template="Answer:")
    with pytest.raises(MetricError, match="not both"):
        load_metric("vqascore", frames=4, fps=1.0)
    with pytest.raises(MetricError, match="mode"):
        load_metric("qa", mode="sample")
    m = load_metric("vqascore:model=internvl3-8b,batch_size=8,frames=6")
    assert m.batch_size == 8 and m.frame_policy().n == 6
    # A custom level question without {prompt} needs no prompt; with one it does.
    assert not load_metric("level_judge", question="Is it sharp?").needs_prompt
    assert load_metric("level_judge", dimension="correspondence").needs_prompt
    assert load_metric("judge_text_alignment").needs_prompt


def test_missing_checkpoint_names_the_download(offline, tiny_videos):
    """Offline, a checkpoint that is not cached fails with the command that fetches it."""
    import videojury

    df = videojury.score(tiny_videos[:2], prompts=["a cat", "a dog"],
                         metrics=["vqascore:model=qwen2.5-vl-7b"])
    err = df["error"].iloc[0]
    assert "Qwen/Qwen2.5-VL-7B-Instruct" in err
    assert "hf download Qwen/Qwen2.5-VL-7B-Instruct" in err
    assert "huggingface-cli download Qwen/Qwen2.5-VL-7B-Instruct" in err
    assert "HF_HUB_OFFLINE" in err
    assert df["vqascore"].isna().all()
    # A hub id that is not in the table is named the same way.
    df = videojury.score(tiny_videos[:1], prompts=["a cat"],
                         metrics=["clipscore:model=someone/not-cached"])
    assert "hf download someone/not-cached" in df["error"].iloc[0]


def test_missing_folder_is_a_clear_error(tiny_videos, tmp_path):
    import videojury

    df = videojury.score(tiny_videos[:1], prompts=["a cat"],
                         metrics=[f"vqascore:model={tmp_path / 'nowhere'}"])
    assert "nowhere" in df["error"].iloc[0]
    assert "not a known short name" in df["error"].iloc[0]

