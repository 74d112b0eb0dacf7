"""`videojury study create`: schedules (balance, connectivity, seeds), golden and repeat items, errors."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from tests._study_utils import make_clips, tokens, write_manifest
from videojury.cli import main
from videojury.errors import InputError
from videojury.study import create_study
from videojury.study.design import REPEAT_GAP, deal_balanced, pair_design


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("clips"), 12, frames=2)


def _manifest(tmp: Path, clips, n_prompts=3, per_prompt=4, golden=None, extra=None):
    rows = []
    for k in range(n_prompts * per_prompt):
        row = {"video": str(clips[k]), "prompt": f"a prompt number {k // per_prompt}",
               "prompt_id": f"p{k // per_prompt}", "model": f"m{k % per_prompt}"}
        if golden is not None:
            row["golden"] = golden.get(k, "")
        row.update((extra or {}).get(k, {}))
        rows.append(row)
    return write_manifest(tmp / "manifest.csv", rows)


def _items(folder: Path) -> list[tuple]:
    con = sqlite3.connect(folder / "study.sqlite")
    try:
        return con.execute("SELECT rater, seq, kind, a, b, repeat_of FROM items ORDER BY rater, seq").fetchall()
    finally:
        con.close()


def test_acr_orders_are_permutations_reproducible_from_the_seed(tmp_path, clips):
    man = _manifest(tmp_path, clips)
    create_study(tmp_path / "s1", man, protocol="acr", dimensions=["quality"], raters=4, seed=7)
    create_study(tmp_path / "s2", man, protocol="acr", dimensions=["quality"], raters=4, seed=7)
    create_study(tmp_path / "s3", man, protocol="acr", dimensions=["quality"], raters=4, seed=8)
    a, b, c = _items(tmp_path / "s1"), _items(tmp_path / "s2"), _items(tmp_path / "s3")
    assert a == b and a != c
    orders = {}
    for rater, _, kind, vid, _, _ in a:
        assert kind == "regular"
        orders.setdefault(rater, []).append(vid)
    assert all(sorted(o) == list(range(1, 13)) for o in orders.values())
    assert len({tuple(o) for o in orders.values()}) == 4  # every rater has an own order
    # Tokens are secrets, not derived from the seed: unique and different between studies.
    t1, t2 = tokens(tmp_path / "s1"), tokens(tmp_path / "s2")
    assert list(t1) == ["r01", "r02", "r03", "r04"]
    assert len(set(t1.values()) | set(t2.values())) == 8
    assert min(len(t) for t in t1.values()) >= 24
    assert (tmp_path / "s1" / "raters.csv").stat().st_mode & 0o077 == 0
    assert (tmp_path / "s1" / "admin_token.txt").stat().st_mode & 0o077 == 0


def test_items_per_rater_are_shared_out_evenly():
    for n_items, n_raters, m in [(12, 5, 5), (7, 3, 4), (30, 8, 11)]:
        deal = deal_balanced(n_items, n_raters, m, seed=3)
        assert all(len(d) == len(set(d)) == m for d in deal)
        counts = Counter(i for d in deal for i in d)
        lo = n_raters * m // n_items
        assert set(counts.values()) <= {lo, lo + 1}
        assert sum(counts.values()) == n_raters * m


@pytest.mark.parametrize("n,d", [(2, None), (5, None), (7, 2), (8, 4), (9, 3), (10, 6)])
def test_pair_design_is_balanced_and_connected(n, d):
    ids = list(range(100, 100 + n))
    pairs = pair_design(ids, d, np.random.default_rng(0))
    assert len(pairs) == len(set(pairs)) and all(a < b for a, b in pairs)
    deg = Counter(v for p in pairs for v in p)
    if d is None:
        assert len(pairs) == n * (n - 1) // 2
    else:
        want = min(n - 1, 2 * -(-d // 2))
        assert set(deg.values()) == {want}
    idx = {v: k for k, v in enumerate(ids)}
    m = csr_matrix((np.ones(len(pairs)), ([idx[a] for a, _ in pairs], [idx[b] for _, b in pairs])), shape=(n, n))
    assert connected_components(m, directed=False)[0] == 1


def test_pairwise_pairs_share_a_prompt_and_repeats_swap_sides(tmp_path, clips):
    man = _manifest(tmp_path, clips, n_prompts=3, per_prompt=4)
    create_study(tmp_path / "s", man, protocol="pairwise", dimensions=["quality"], raters=3, repeats=2, seed=1)
    items = _items(tmp_path / "s")
    per = {}
    for rater, seq, kind, a, b, rep in items:
        per.setdefault(rater, []).append((kind, a, b, rep))
        assert (a - 1) // 4 == (b - 1) // 4  # same prompt (4 clips per prompt, ids from 1)
    for sched in per.values():
        regular = [tuple(sorted((a, b))) for k, a, b, _ in sched if k == "regular"]
        assert len(regular) == len(set(regular)) == 3 * 6  # all pairs of each prompt
        reps = [(s, x) for s, x in enumerate(sched) if x[0] == "repeat"]
        assert len(reps) == 2
        sides = Counter()
        for pos, (_, a, b, of) in reps:
            ok, oa, ob, _ = sched[of]
            assert ok == "regular" and (oa, ob) == (b, a)
            assert pos - of > REPEAT_GAP
        for k, a, b, _ in sched:
            sides[a < b] += 1
        assert sides[True] and sides[False]  # left/right drawn per showing


def test_golden_items_acr_and_pairwise(tmp_path, clips):
    gold = {0: 5, 1: 1, 4: 4, 5: 2}
    man = _manifest(tmp_path, clips, golden=gold)
    create_study(tmp_path / "a", man, protocol="acr", dimensions=["quality", "motion"], raters=3, golden=3, seed=2)
    items = _items(tmp_path / "a")
    for r in ("r01", "r02", "r03"):
        mine = [x for x in items if x[0] == r]
        assert sum(x[2] == "golden" for x in mine) == 3
        assert {x[3] for x in mine if x[2] == "regular"} == {k + 1 for k in range(12) if k not in gold}
        assert {x[3] for x in mine if x[2] == "golden"} <= {k + 1 for k in gold}
    create_study(tmp_path / "p", man, protocol="pairwise", dimensions=["quality"], raters=2, golden=2, seed=2)
    items = _items(tmp_path / "p")
    golden_pairs = {tuple(sorted((x[3], x[4]))) for x in items if x[2] == "golden"}
    assert golden_pairs <= {(1, 2), (5, 6)}
    regular_ids = {v for x in items if x[2] == "regular" for v in (x[3], x[4])}
    assert not regular_ids & {k + 1 for k in gold}


def test_create_errors_name_what_to_fix(tmp_path, clips):
    man = _manifest(tmp_path, clips)
    kw = dict(protocol="acr", dimensions=["quality"], raters=2)
    create_study(tmp_path / "s", man, **kw)
    with pytest.raises(InputError, match="already holds a study"):
        create_study(tmp_path / "s", man, **kw)
    with pytest.raises(InputError, match="no golden items.*'golden'"):
        create_study(tmp_path / "g", man, golden=1, **kw)
    with pytest.raises(InputError, match="--repeats 13 is more than the 12"):
        create_study(tmp_path / "r", man, repeats=13, **kw)
    with pytest.raises(InputError, match="--dimension 'bad name'"):
        create_study(tmp_path / "d", man, protocol="acr", dimensions=["bad name"], raters=1)
    with pytest.raises(InputError, match="--protocol"):
        create_study(tmp_path / "p", man, protocol="mos", dimensions=["q"], raters=1)
    bad = write_manifest(tmp_path / "missing.csv", [{"video": "nope.mp4", "prompt": "x"}])
    with pytest.raises(InputError, match=r"missing.csv row 1, column 'video': file not found"):
        create_study(tmp_path / "m", bad, **kw)
    noprompt = write_manifest(tmp_path / "np.csv", [{"video": str(clips[0]), "prompt": ""}])
    with pytest.raises(InputError, match=r"row 1, column 'prompt': empty, but dimension 'alignment'"):
        create_study(tmp_path / "n", noprompt, protocol="acr", dimensions=["alignment"], raters=1)
    with pytest.raises(InputError, match="pairs videos of the same prompt"):
        create_study(tmp_path / "q", noprompt, protocol="pairwise", dimensions=["quality"], raters=1)
    dup = write_manifest(tmp_path / "dup.csv", [{"video": str(clips[0]), "prompt": "a"},
                                                {"video": str(clips[0]), "prompt": "b"}])
    with pytest.raises(InputError, match="row 2: video .* is already in row 1"):
        create_study(tmp_path / "u", dup, **kw)
    gif = tmp_path / "x.gif"
    gif.write_bytes(b"GIF89a")
    with pytest.raises(InputError, match="not a format browsers play"):
        create_study(tmp_path / "f", write_manifest(tmp_path / "gif.csv", [{"video": str(gif)}]), **kw)
    badgold = _manifest(tmp_path, clips, golden={0: 9})
    with pytest.raises(InputError, match="column 'golden': a golden ACR answer is 1-5, got '9'"):
        create_study(tmp_path / "b", badgold, **kw)
    assert not (tmp_path / "m" / "study.sqlite").exists()


def test_cli_create_and_its_errors(tmp_path, clips, capsys):
    man = _manifest(tmp_path, clips)
    rc = main(["study", "create", str(tmp_path / "s"), "--manifest", str(man), "--protocol", "pairwise",
               "--dimension", "quality", "--dimension", "alignment", "--raters", "3",
               "--pairs-per-video", "2", "--repeats", "1"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "12 videos, 12 pairs, 0 golden; 3 raters with 13-13 presentations" in err
    rc = main(["study", "create", str(tmp_path / "s"), "--manifest", str(man), "--protocol", "acr",
               "--raters", "1"])
    assert rc == 2 and "already holds a study" in capsys.readouterr().err
    rc = main(["study", "export", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.csv")])
    assert rc == 2 and "not a study folder" in capsys.readouterr().err
