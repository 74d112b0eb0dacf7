"""The regression head reads the token before the level word, whatever the padding.

LOVE reads the hidden state at a fixed offset (-4) from the end of each row;
that is only right for one answer template on right-aligned rows. These
tests build batches whose rows have prompts of different lengths and answers
of different lengths after the level word, pad them on the left and on the
right, and check that the state the evaluator gathers is exactly the state
of the token before the level word (computed from a separate, unpadded run
of that example cut at that token) - and that a fixed -4 offset is not.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.models
torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from videojury.data.synthetic import ClipSpec, make_clip  # noqa: E402
from videojury.video import Frames, VideoInfo  # noqa: E402


def _frames(seed: int, size: int) -> Frames:
    arr = make_clip(seed, ClipSpec(width=size, height=size, frames=4, fps=8.0))
    info = VideoInfo("synthetic.mp4", 4, 8.0, 0.5, size, size, "h264")
    return Frames(arr, np.arange(4), np.arange(4) / 8.0, info)


@pytest.fixture(scope="module", params=[("qwen2_5_vl", 56), ("internvl", 28)])
def setup(request, tmp_path_factory):
    from videojury.models.checkpoints import resolve_checkpoint
    from videojury.models.tiny import build_tiny
    from videojury.train.model import (
        PromptEncoder,
        TargetPrompt,
        build_evaluator,
        load_private_backbone,
    )

    family, size = request.param
    path = build_tiny(family, tmp_path_factory.mktemp(family))
    bb = load_private_backbone(resolve_checkpoint(str(path)), "cpu", "float32", False)
    targets = [
        TargetPrompt("quality", "How would you rate the quality of this video?",
                     "The quality of the video is"),
        TargetPrompt("correspondence",
                     'How well does this video match the text "{prompt}"? Rate the '
                     "correspondence between the video and the text.",
                     "The correspondence between the video and the text is"),
    ]
    torch.manual_seed(0)
    ev = build_evaluator(bb, targets, lora_names=[], r=0, alpha=1, dropout=0.0)
    ev.eval()
    return ev, PromptEncoder(bb, targets), size


# (target, prompt, answer after the level word): prompts and answers of different lengths.
ROWS = [
    (0, None, "good."),
    (1, "a red car", "poor, because the video shows a blue car and not a red car."),
    (1, "a dog running on the beach at sunset with a ball", "excellent."),
    (0, None, "fair; the motion is not smooth and some frames are very blurry."),
]


def _examples(encoder, size):
    from videojury.train.model import level_word

    out = []
    for i, (t, prompt, answer) in enumerate(ROWS):
        before, _ = encoder.mos_texts(t, prompt, None, False)
        full = before + " " + answer
        enc = encoder.encode(_frames(i, size), before, full)
        alone = encoder.encode(_frames(i, size), before, before)
        out.append((enc, alone, before, full))
    assert level_word(0.9) == "excellent" and level_word(0.0) == "bad"
    return out


@pytest.mark.parametrize("side", ["left", "right"])
def test_head_reads_the_token_before_the_level_word(setup, side):
    from videojury.train.model import collate

    ev, encoder, size = setup
    rows = _examples(encoder, size)
    pad = encoder.tokenizer.pad_token_id
    batch = collate([r[0] for r in rows], pad, side)
    ids = batch["inputs"]["input_ids"]
    mask = batch["inputs"]["attention_mask"]
    with torch.no_grad():
        got = ev.hidden_at(batch["inputs"], batch["anchors"])
        for k, (enc, alone, before, full) in enumerate(rows):
            # Reference: the example alone, cut right after the anchor token; its last state.
            single = collate([alone], pad, side)
            ref = ev.hidden_at(single["inputs"], torch.tensor([alone.inputs["input_ids"].shape[1]
                                                               - 1]))
            np.testing.assert_allclose(got[k].numpy(), ref[0].numpy(), atol=1e-5, rtol=1e-4)
            # The anchor is the last token of the text before the level word, and the
            # token after it starts the level word.
            a = int(batch["anchors"][k])
            assert mask[k, a] == 1
            before_ids = encoder.tokenizer(before)["input_ids"]
            full_ids = encoder.tokenizer(full)["input_ids"]
            assert int(ids[k, a]) == before_ids[-1]
            assert int(ids[k, a + 1]) == full_ids[len(before_ids)]
            assert enc.lm_target == full_ids[len(before_ids)]
    # A fixed offset from the end of the padded batch (LOVE's -4) lands elsewhere.
    fixed = ids.shape[1] - 4
    wrong = [k for k in range(len(rows)) if int(batch["anchors"][k]) != fixed]
    assert len(wrong) >= len(rows) - 1
    with torch.no_grad():
        h_fixed = ev.hidden_at(batch["inputs"], torch.full((len(rows),), fixed))
    assert any(not torch.allclose(h_fixed[k], got[k], atol=1e-4) for k in wrong)


def test_padding_side_does_not_change_predictions(setup):
    from videojury.train.model import collate

    ev, encoder, size = setup
    rows = _examples(encoder, size)
    pad = encoder.tokenizer.pad_token_id
    with torch.no_grad():
        left = collate([r[0] for r in rows], pad, "left")
        right = collate([r[0] for r in rows], pad, "right")
        pl = ev(left["inputs"], left["anchors"])["preds"]
        pr = ev(right["inputs"], right["anchors"])["preds"]
    np.testing.assert_allclose(pl.numpy(), pr.numpy(), atol=1e-5)


def test_level_word_merging_with_prefix_is_refused(setup):
    from videojury.errors import MetricError
    from videojury.train.model import locate_anchor

    _, encoder, _ = setup
    tok = encoder.tokenizer
    before = "The quality of the video is"
    full = before + " good."
    row = tok(full)["input_ids"]
    assert locate_anchor(tok, before, full, row) == (len(tok(before)["input_ids"]) - 1,
                                                     tok(full)["input_ids"][
                                                         len(tok(before)["input_ids"])])
    with pytest.raises(MetricError, match="not a token prefix"):
        locate_anchor(tok, before + " go", before + " good.", tok(before + " good.")["input_ids"])
