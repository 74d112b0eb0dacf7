"""Complete store keys: resolved dtype and device kind, checkpoint and processor identity.

On a tiny random CLIP saved to a local folder (and the same files laid out
as a Hugging Face cache entry), offline: a default run and the same run with
``dtype=float32`` spelled out share their results; ``dtype=bfloat16``
recomputes; new weights at the same path recompute; a hub name is keyed by
the commit it resolves to in the local cache, and that commit is what loads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import videojury  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.models import loading  # noqa: E402
from videojury.models.checkpoints import folder_digest, hub_commit  # noqa: E402
from videojury.run import Store  # noqa: E402
from videojury.run.executor import plan  # noqa: E402
from videojury.video import write_video  # noqa: E402

pytestmark = pytest.mark.models

COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    from videojury.models.tiny import build_tiny

    return build_tiny("clip", tmp_path_factory.mktemp("ck") / "clip", seed=0)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("keyvids")
    rng = np.random.default_rng(3)
    out = []
    for i in range(3):
        frames = rng.integers(0, 255, (6, 40, 48, 3)).astype(np.uint8)
        p = root / f"v{i}.mp4"
        write_video(p, frames, fps=6)
        out.append(str(p))
    return out


def _score(videos, spec, store):
    df, stats = videojury.score(videos, prompts=["a cat"] * len(videos), metrics=[spec],
                                store=store, return_stats=True)
    return df, stats


def test_default_and_spelled_out_float32_share_results_bf16_recomputes(tiny_clip, videos,
                                                                       tmp_path):
    store = tmp_path / "s.sqlite"
    base = f"clipscore:model={tiny_clip},frames=2"
    d0, s0 = _score(videos, base, store)
    assert (s0.computed, s0.cached) == (3, 0)
    d1, s1 = _score(videos, base + ",dtype=float32", store)
    assert (s1.computed, s1.cached) == (0, 3)  # served entirely from the store
    assert d1["clipscore"].tolist() == d0["clipscore"].tolist()
    d2, s2 = _score(videos, base + ",dtype=bfloat16", store)
    assert (s2.computed, s2.cached) == (3, 0)
    with Store(store) as st:
        idents = {json.loads(r.key.identity)["dtype"] for r in st.iter_results()}
        row = next(st.iter_results())
    assert idents == {"float32", "bfloat16"}
    ident = json.loads(row.key.identity)
    assert ident["device"] == "cpu" and ident["weights"].startswith("files:")
    assert ident["processor"] == "with weights"
    assert "dtype" not in json.loads(row.key.options)  # keyed by its resolved value only


def test_new_weights_at_the_same_path_recompute(tiny_clip, videos, tmp_path):
    from videojury.models.tiny import build_tiny

    folder = tmp_path / "model"
    shutil.copytree(tiny_clip, folder)
    store = tmp_path / "s.sqlite"
    spec = f"clipscore:model={folder},frames=2"
    d0, s0 = _score(videos, spec, store)
    _, s1 = _score(videos, spec, store)
    assert (s0.computed, s1.computed, s1.cached) == (3, 0, 3)
    size = (folder / "model.safetensors").stat().st_size
    build_tiny("clip", folder, seed=1)  # other weights, same file names (and size)
    assert (folder / "model.safetensors").stat().st_size == size
    loading.clear_cache()
    d2, s2 = _score(videos, spec, store)
    assert (s2.computed, s2.cached) == (3, 0)
    assert d2["clip_cosine"].tolist() != d0["clip_cosine"].tolist()
    # a changed tokenizer or config alone is a new identity too
    with Store(store) as st:
        before = folder_digest(folder, st.content_hash)
        cfg = folder / "processor_config.json"
        cfg.write_text(cfg.read_text() + "\n")
        assert folder_digest(folder, st.content_hash) != before


def test_weight_free_metrics_have_an_empty_identity(videos, tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        p = plan(videojury.data.load_items(videos), [load_metric("flicker")], st)
    assert {k.identity for k in p.keys.values()} == {""}


def _hub_entry(cache: Path, repo: str, commit: str, files: Path, ref: str = "main") -> None:
    """Lay ``files`` out as the hub cache does: snapshots/<commit>/..., refs/<ref>."""
    entry = cache / ("models--" + repo.replace("/", "--"))
    snap = entry / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    for f in files.iterdir():
        shutil.copy2(f, snap / f.name)
    (entry / "refs").mkdir(parents=True, exist_ok=True)
    (entry / "refs" / ref).write_text(commit)


def test_hub_name_keyed_by_the_cached_commit_which_is_what_loads(tiny_clip, videos, tmp_path):
    from videojury.models.tiny import build_tiny

    cache = tmp_path / "hub"
    _hub_entry(cache, "someone/tiny-clip", COMMIT_A, tiny_clip)
    assert hub_commit("someone/tiny-clip") == COMMIT_A
    store = tmp_path / "s.sqlite"
    spec = "clipscore:model=someone/tiny-clip,frames=2"
    d0, s0 = _score(videos, spec, store)
    assert s0.computed == 3 and d0["error"].isna().all(), d0["error"].tolist()
    _, s1 = _score(videos, spec, store)
    assert (s1.computed, s1.cached) == (0, 3)
    with Store(store) as st:
        ident = json.loads(next(st.iter_results()).key.identity)
    assert ident["weights"] == f"hub:someone/tiny-clip@{COMMIT_A}"

    # main moves to a commit with other weights: new key, and the new weights load
    other = build_tiny("clip", tmp_path / "other", seed=1)
    _hub_entry(cache, "someone/tiny-clip", COMMIT_B, other)
    loading.clear_cache()
    d2, s2 = _score(videos, spec, store)
    assert (s2.computed, s2.cached) == (3, 0)
    assert d2["clip_cosine"].tolist() != d0["clip_cosine"].tolist()
    local = _score(videos, f"clipscore:model={other},frames=2", tmp_path / "t.sqlite")[0]
    assert d2["clip_cosine"].tolist() == local["clip_cosine"].tolist()


def test_unresolvable_checkpoint_is_never_served_from_the_store(videos, tmp_path):
    m = load_metric("clipscore", model="nobody/not-cached", frames=2)
    with Store(tmp_path / "s.sqlite") as st:
        p = plan(videojury.data.load_items(videos, ["a cat"] * 3), [m], st)
    key = next(iter(p.keys.values()))
    assert key.identity.startswith("unresolved:") and "not in the local" in key.identity
    assert len(p.pending) == 3


def test_identity_helpers_for_metrics_that_load_their_own_weights(tmp_path):
    import torch

    from videojury.models.checkpoints import weight_file_identity
    from videojury.models.loading import precision_identity

    if not torch.cuda.is_available():
        assert precision_identity("", "") == {"device": "cpu", "dtype": "float32"}
        assert precision_identity("cpu", "float32") == precision_identity(None, None)
    assert precision_identity("cpu", "bf16") == {"device": "cpu", "dtype": "bfloat16"}
    w = tmp_path / "net.pth"
    w.write_bytes(b"\0" * 64)
    with Store(tmp_path / "s.sqlite") as st:
        a = weight_file_identity(w, st.content_hash)
        w.write_bytes(b"\1" * 64)
        assert weight_file_identity(w, st.content_hash) != a and a.startswith("file:")


def test_two_dtypes_in_one_run_are_two_metrics(tiny_clip, videos, tmp_path):
    base = f"clipscore:model={tiny_clip},frames=2"
    df, stats = videojury.score(videos, prompts=["a cat"] * 3,
                                metrics=[base, base + ",dtype=bfloat16"],
                                store=tmp_path / "s.sqlite", return_stats=True)
    assert stats.computed == 6 and df["error"].isna().all()
    cols = [c for c in df.columns if c.startswith("clipscore[")]
    assert len(cols) == 2
