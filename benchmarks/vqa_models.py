"""Videos/s of fast_vqa, faster_vqa, dover, vsfa and simplevqa against the official scripts.

    python benchmarks/vqa_models.py --metric faster_vqa --ckpt CKPT [--repo /tmp/fastvqa_src] \
        [--ref-python /tmp/vqaref/bin/python] [--batch-size 4] VIDEO...
    python benchmarks/vqa_models.py --metric vsfa --ckpt VSFA.pt --ckpt2 RESNET50.pth ...
    python benchmarks/vqa_models.py --metric simplevqa --ckpt UGC_BVQA_model.pth \
        --ckpt2 SLOWFAST_8x8_R50.pyth --ref-python /tmp/simplevqaref/bin/python ...

videojury: one ``videojury.score`` run over all videos (one decode per video,
``batch_size`` videos per forward pass). Official: the reference script of
``benchmarks/parity/`` (the official vqa.py / evaluate_one_video.py, executed
unchanged), one process per video as the scripts are run, so its figure
includes Python start-up, imports and model construction per video (the
scripts take one video each); a first warm-up call is not counted.
Same checkpoint, same clips, same CPU. Without ``--ckpt`` a seeded tiny
checkpoint (tests/_vqa_ckpts.py; for vsfa / simplevqa the full-size seeded
files of tests/_resnet_vqa_ckpts.py) is written to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF = {"fast_vqa": ("fastvqa", ["--model", "FAST-VQA"]),
       "faster_vqa": ("fastvqa", ["--model", "FasterVQA"]),
       "dover": ("dover", []), "vsfa": ("vsfa", []), "simplevqa": ("simplevqa", [])}
# the second weight file: metric option, reference.py flag; the first file's flag
SECOND = {"vsfa": ("backbone", "--backbone"), "simplevqa": ("motion_model", "--slowfast")}
FIRST = {"vsfa": "--head"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--metric", choices=sorted(REF), default="faster_vqa")
    ap.add_argument("--ckpt")
    ap.add_argument("--ckpt2", help="vsfa: the ResNet-50 file; simplevqa: the SlowFast file")
    ap.add_argument("--repo", help="official source tree (enables the official timing)")
    ap.add_argument("--ref-python", default="/tmp/vqaref/bin/python")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("videos", nargs="+")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "tests"))
    import pandas as pd

    import videojury

    tmp = Path(tempfile.mkdtemp(prefix="vqa_bench_"))
    ckpt, ckpt2 = a.ckpt, a.ckpt2
    if not ckpt and a.metric in SECOND:
        import _resnet_vqa_ckpts as RK

        if a.metric == "vsfa":
            ckpt, ckpt2 = (RK.write(tmp / "VSFA.pt", RK.vsfa_state(0)),
                           ckpt2 or RK.write(tmp / "r50.pth", RK.resnet50_state(0)))
        else:
            ckpt, ckpt2 = (RK.write(tmp / "svqa.pth", RK.simplevqa_state(0)),
                           ckpt2 or RK.write(tmp / "sf.pyth", RK.slowfast_state(0)))
    elif not ckpt:
        import _vqa_ckpts as CK

        ckpt = CK.write(tmp / "ckpt.pth", CK.dover_state(0) if a.metric == "dover"
                        else CK.fastvqa_state(0))
    items = pd.DataFrame({"video": [str(Path(v).resolve()) for v in a.videos]})
    spec = f"{a.metric}:model={ckpt},device=cpu,batch_size={a.batch_size}"
    if a.metric in SECOND:
        spec += f",{SECOND[a.metric][0]}={ckpt2}"
    videojury.score(items.iloc[:1], metrics=[spec], store=str(tmp / "warm.db"))  # load + warm-up
    t0 = time.perf_counter()
    df = videojury.score(items, metrics=[spec], store=str(tmp / "run.db"))
    ours = time.perf_counter() - t0
    errors = df["error"].notna().sum()
    print(f"videojury {a.metric}: {len(items)} videos in {ours:.1f} s = "
          f"{len(items) / ours:.3f} videos/s (batch_size {a.batch_size}, errors {errors})")
    if not a.repo:
        return
    folder, extra = REF[a.metric]
    script = ROOT / "benchmarks" / "parity" / folder / "reference.py"
    per = []
    for v in [a.videos[0]] + list(a.videos):  # first call: warm-up, not counted
        out = tmp / "ref.json"
        t0 = time.perf_counter()
        files = [FIRST.get(a.metric, "--ckpt"), ckpt]
        if a.metric in SECOND:
            files += [SECOND[a.metric][1], ckpt2]
        subprocess.run([a.ref_python, str(script), "--repo", a.repo, *files, *extra,
                        "--out", str(out), v], check=True, capture_output=True)
        per.append(time.perf_counter() - t0)
        json.loads(out.read_text())
    official = sum(per[1:])
    print(f"official {a.metric}: {len(items)} videos in {official:.1f} s = "
          f"{len(items) / official:.3f} videos/s (one process per video, start-up included)")
    print(f"ratio (videojury / official videos/s): {official / ours:.2f}x")


if __name__ == "__main__":
    main()
