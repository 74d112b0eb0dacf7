"""Every piece of wording the vision-language metrics put in front of a model.

All prompt text lives in this one module so it can be read, reviewed and
changed in one place; each metric names the entry it uses and exposes it as
an option (``template=``, ``question=``, ``prefix=``) so a run can override
it, and the wording in effect is part of the result's store key through that
option's value.

Placeholders: ``{prompt}`` is the text prompt the video was generated from;
``{question}`` an item's yes/no question. They are filled with
:func:`fill`, which leaves any other braces alone.

**VQAScore** (Lin et al., ECCV 2024; t2v_metrics) asks whether the video
shows the prompt and reads P("Yes") as the first answer token.

**Level judges** follow Q-Align (Wu et al., ICML 2024) and LOVE: the model
is asked to rate one aspect, the assistant's answer is started with a fixed
sentence ("The quality of the video is") and the next token's probabilities
on the five level words are read. Aspects: overall quality and text-video
correspondence (LOVE's perception and correspondence), AIGV-Assessor's
static quality, temporal smoothness and dynamic degree (Wang et al., CVPR
2025), and VideoScore2's visual quality, text alignment and physical /
common-sense consistency (He et al., 2025). The wording is ours; the
published models were fine-tuned with their authors' exact wording, which
should be passed with ``question=``/``prefix=`` when reproducing a
fine-tuned checkpoint's numbers.

**Rationale judge** (VideoScore2 style) asks for a short explanation and an
integer 1-5 per axis, in a fixed line format the parser reads back.

**QA** wraps an item's question with an instruction to answer yes or no.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

# Level words, best first, and the level each stands for (bad=1 ... excellent=5).
LEVEL_WORDS: tuple[str, ...] = ("excellent", "good", "fair", "poor", "bad")
LEVEL_VALUES: tuple[int, ...] = (5, 4, 3, 2, 1)

VQASCORE_TEMPLATE = 'Does this video show "{prompt}"? Please answer yes or no.'
# t2v_metrics 3.0's Qwen-VL question (vqascore:preset=t2v_metrics, see t2v_preset.py)
T2V_METRICS_QWEN_TEMPLATE = 'Does this image show "{prompt}"?'

QA_TEMPLATE = "{question} Please answer yes or no."

# Hosted models (model=openai:NAME, videojury.models.remote): the line before the
# frames, and the level judges' question (a chat API cannot start the answer for
# the model, so the answer prefix becomes part of the question).
REMOTE_FRAMES_NOTE = "The following {n} images are frames sampled in order from one video."
REMOTE_LEVEL_TEMPLATE = ('{question} Answer with one word, excellent, good, fair, poor or bad, '
                         'that completes the sentence "{prefix} ...".')


@dataclass(frozen=True)
class Dimension:
    """One aspect a level judge rates.

    ``question``: what the user turn asks (may hold ``{prompt}``).
    ``prefix``: how the assistant's answer starts; the level word follows
    it after a space. ``needs_prompt``: whether the item's text prompt is
    required. ``source``: the work whose dimension this is.
    """

    question: str
    prefix: str
    needs_prompt: bool
    source: str
    description: str


DIMENSIONS: dict[str, Dimension] = {
    "quality": Dimension(
        "How would you rate the quality of this video?",
        "The quality of the video is",
        False, "Q-Align / LOVE perception",
        "overall perceptual quality"),
    "correspondence": Dimension(
        'How well does this video match the text "{prompt}"? Rate the correspondence '
        "between the video and the text.",
        "The correspondence between the video and the text is",
        True, "LOVE correspondence",
        "how well the video corresponds to its text prompt"),
    "static_quality": Dimension(
        "How would you rate the static quality of this video, judging the clarity, detail "
        "and aesthetics of its individual frames?",
        "The static quality of the video is",
        False, "AIGV-Assessor static quality",
        "per-frame clarity, detail and aesthetics"),
    "temporal_smoothness": Dimension(
        "How would you rate the temporal smoothness of this video, judging how stable and "
        "fluid it is from frame to frame?",
        "The temporal smoothness of the video is",
        False, "AIGV-Assessor temporal smoothness",
        "frame-to-frame stability and fluency (no jitter, flicker or jumps)"),
    "dynamic_degree": Dimension(
        "How would you rate the dynamic degree of this video, judging how much meaningful "
        "motion it shows?",
        "The dynamic degree of the video is",
        False, "AIGV-Assessor dynamic degree",
        "amount and richness of motion"),
    "visual_quality": Dimension(
        "How would you rate the visual quality of this video, judging clarity, resolution, "
        "colour and the absence of visual artifacts?",
        "The visual quality of the video is",
        False, "VideoScore2 visual quality",
        "clarity, resolution, colour, artifacts"),
    "text_alignment": Dimension(
        'The video was generated from the text "{prompt}". How would you rate how well the '
        "video follows this text?",
        "The alignment of the video with the text is",
        True, "VideoScore2 text-to-video alignment",
        "how faithfully the video follows the prompt"),
    "physical_consistency": Dimension(
        "How would you rate the physical and common-sense consistency of this video, "
        "judging whether motion, contact and object permanence are plausible?",
        "The physical consistency of the video is",
        False, "VideoScore2 physical / common-sense consistency",
        "plausible physics and common sense"),
}

# The three axes of the rationale judge: field suffix -> (label the model is
# asked to write, other spellings the parser accepts).
RATIONALE_AXES: dict[str, tuple[str, tuple[str, ...]]] = {
    "visual_quality": ("visual quality", ("visual quality", "visual", "quality", "vq")),
    "text_alignment": ("text alignment", ("text-to-video alignment", "text to video alignment",
                                          "text-video alignment", "text alignment",
                                          "t2v alignment", "alignment", "ta")),
    "physical_consistency": ("physical consistency", (
        "physical/common-sense consistency", "physical / common-sense consistency",
        "physical/common sense consistency", "physical and common-sense consistency",
        "physical consistency", "common-sense consistency", "commonsense consistency",
        "physics", "physical", "pc")),
}

RATIONALE_TEMPLATE = (
    'This video was generated from the text "{prompt}". Judge it on three axes, each an '
    "integer from 1 (bad) to 5 (excellent): visual quality, text alignment, and physical "
    "consistency. First explain briefly, then give the scores in this format:\n"
    "visual quality: N\ntext alignment: N\nphysical consistency: N")


def fill(template: str, **values: str) -> str:
    """``template`` with ``{name}`` placeholders replaced; other braces kept as written."""
    out = []
    for literal, name, spec, conv in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if name in values:
            out.append(str(values[name]))
        else:
            out.append("{" + name + (("!" + conv) if conv else "") + ((":" + spec) if spec
                                                                         else "") + "}")
    return "".join(out)


def placeholders(template: str) -> set[str]:
    """Names of the ``{name}`` placeholders in ``template``."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return set()
