"""head.position: love_minus4 reproduces LOVE's ``hidden_states[-1][:, -4, :]`` readout.

The reference is the tensor ops of LOVE's own forward (benchmarks/parity/love_head:
``[:, -4, :]``, nan_to_num, score head) on each row alone; ours reads padded batches.
Measured on a tiny random Qwen2.5-VL: hidden states 7.5e-7, scores 6e-8 apart with
left and right padding; LOVE's literal index on the right-padded batch is 0.52 off,
and appending the level word (another suffix) moves its score by 0.30.
"""

from __future__ import annotations

import pytest

from videojury.errors import InputError
from videojury.train import config_from_dict

from ._parity_scripts import load_script


def _compare():
    """benchmarks/parity/love_head/compare.py under its own module name (other parity
    folders have a compare.py too)."""
    return load_script("love_head/compare.py", "love_head_compare")


def test_config_checks_the_position_and_refuses_lm_loss_with_minus4():
    base = {"base": "x", "output_dir": "o"}
    with pytest.raises(InputError, match="head.position must be anchor or love_minus4"):
        config_from_dict({**base, "head": {"position": "-4"}})
    with pytest.raises(InputError, match="loss.lm appends the level word"):
        config_from_dict({**base, "head": {"position": "love_minus4"}, "loss": {"lm": 0.5}})
    assert config_from_dict(base).head.position == "anchor"


@pytest.mark.models
def test_minus4_matches_loves_readout_in_padded_batches(tmp_path):
    pytest.importorskip("torch")
    compare = _compare()

    from videojury.data.synthetic import ClipSpec, make_clip
    from videojury.models.tiny import build_tiny
    from videojury.video import write_video

    tiny = build_tiny("qwen2_5_vl", tmp_path / "tiny")
    spec = ClipSpec(width=56, height=56, frames=4, fps=8.0)
    write_video(tmp_path / "v.mkv", make_clip(0, spec), fps=spec.fps, codec="ffv1", crf=None)
    res = compare.run(tiny, tmp_path / "v.mkv")
    assert len(set(res["lengths"])) == 3  # rows of different lengths: padding matters
    for side in ("left", "right"):
        assert res[f"ours_{side}_hidden_max_abs"] < 1e-4
        assert res[f"ours_{side}_score_max_abs"] < 1e-4
    assert res["love_literal_left_score_max_abs"] < 1e-4  # left padding: -4 is right
    assert res["love_literal_right_score_max_abs"] > 1e-2  # right padding: it reads pads
    assert res["suffix_changed_score_abs"] > 1e-2  # another suffix: another token
