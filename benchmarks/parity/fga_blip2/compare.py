"""videojury's fga_blip2 on the files reference.py wrote, against its numbers.

    python benchmarks/parity/fga_blip2/compare.py OUT      # in videojury's venv (transformers 5)

Prints, per clip, the reference's and videojury's mean alignment score and their
difference, then the largest difference over every frame and over clip 0 frame 0's
text-token probabilities. Run with the same FGA_PARITY_SIZE as reference.py.
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
import weights  # noqa: E402

from videojury.metrics import load_metric  # noqa: E402
from videojury.video import frames_from_array  # noqa: E402

out = Path(sys.argv[1])
ref = json.loads((out / "reference.json").read_text())
m = load_metric("fga_blip2", model=str(out / "fga_blip2.pth"), tokenizer=str(out / "tokenizer"))
clips = list(np.load(out / "frames.npy"))
got = [r["fga_blip2"] for r in m.batch(clips, fps=8.0, prompts=weights.PROMPTS)]
print("| clip | reference | videojury | difference |\n|---|---|---|---|")
for i, (r, g) in enumerate(zip(ref["per_clip"], got)):
    print(f"| {i} | {r:.9f} | {g:.9f} | {abs(r - g):.1e} |")
frame_worst, token_worst = 0.0, 0.0
for c, p, pf, tk in zip(clips, weights.PROMPTS, ref["per_frame"], ref["token_scores_frame0"]):
    a, t = m.frame_scores(list(frames_from_array(c, 8.0, m.frame_policy()).array), p)
    frame_worst = max(frame_worst, float(np.abs(a - np.asarray(pf)).max()))
    token_worst = max(token_worst, float(np.abs(t[0] - np.asarray(tk)).max()))
print(f"largest per-frame difference {frame_worst:.1e}, per-token {token_worst:.1e}")
