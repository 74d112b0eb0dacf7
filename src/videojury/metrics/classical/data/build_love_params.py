"""Rebuild the HOSA, QAC, BMPRI and BPRI parameter files from LOVE's NRIQA folder.

Usage: ``python build_love_params.py /path/to/LOVE`` where the folder is a
checkout of https://github.com/IntMeGroup/LOVE (commit
919fe928478eb91c26a69892db3891ba5c69150d was used). The input files are
checked against their SHA-256, read with SciPy (``.mat``) or parsed as
libsvm text (``SVM/model``, ``SVM/range``), and written here as ``.npz``
arrays. Only parameter data is taken; see ``LOVE_NOTICE.md``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import scipy.io as sio

HERE = Path(__file__).resolve().parent
SHA256 = {
    "NRIQA/HOSA_release_v0/codebook_hosa.mat":
        "cd9fa3565a11b1b9d617ee976c8ceee73958376146690e6edf3968037ed314da",
    "NRIQA/HOSA_release_v0/hosa_live_model.mat":
        "c9353d9a2b38cad63b0240c82347b4ce94625255fc09cf3bb19b6bcee2983fe8",
    "NRIQA/HOSA_release_v0/whitening_param.mat":
        "f32638468d43ac46398c65f2aa660db3fbd7031e101da8a85b14003270fc5712",
    "NRIQA/QAC/cluster_center.mat":
        "b9c4d799dc4953586161516c85487c16d39f3d5d9f2bba5bd3ff3873f81e9add",
    "NRIQA/BMPRI/SVM/model": "541cdd012881bc46feca0da1047aa4eaa6797f1bb37a853da1b61d50bb676338",
    "NRIQA/BMPRI/SVM/range": "8c4de1220bbb31db85dd7bd4c21b3d9b1e0ac4643bc2341d2a451ab68e064cc8",
    "NRIQA/BPRI/SVM/model": "fd73869ff41e5dae5af0a732486875dfc7376c5354935752f57f35a3ff6428ab",
    "NRIQA/BPRI/SVM/range": "abe0ede65ab59a5b72def9fd36b710952d1916a555efd8eea91be258d6a9858c",
    "NRIQA/BPRI/para.mat": "c2bc0508bb4172331bf08db29346ffdbdafc8d00a098c556603564fa693f06e1",
}


def _read(root: Path, rel: str) -> Path:
    path = root / rel
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256[rel]:
        raise SystemExit(f"{rel}: SHA-256 {digest} is not the expected {SHA256[rel]}")
    return path


def parse_libsvm_model(path: Path) -> dict[str, np.ndarray]:
    """A libsvm text model as dense arrays (absent sparse entries are zeros)."""
    header: dict[str, list[str]] = {}
    lines = path.read_text().splitlines()
    i = 0
    while lines[i].strip() != "SV":
        key, *vals = lines[i].split()
        header[key] = vals
        i += 1
    nr_class = int(header["nr_class"][0])
    rows = [ln.split() for ln in lines[i + 1:] if ln.strip()]
    ncoef = nr_class - 1
    dim = max(int(tok.split(":")[0]) for r in rows for tok in r[ncoef:])
    coef = np.array([[float(v) for v in r[:ncoef]] for r in rows])
    sv = np.zeros((len(rows), dim))
    for k, r in enumerate(rows):
        for tok in r[ncoef:]:
            idx, val = tok.split(":")
            sv[k, int(idx) - 1] = float(val)
    out = {
        "support_vectors": sv,
        "sv_coef": coef.T.copy(),  # (nr_class - 1, n_sv)
        "rho": np.array([float(v) for v in header["rho"]]),
        "gamma": np.array(float(header["gamma"][0])),
        "nr_class": np.array(nr_class),
    }
    for key in ("label", "nr_sv", "probA", "probB"):
        if key in header:
            out[key] = np.array([float(v) for v in header[key]])
    return out


def parse_range(path: Path) -> dict[str, np.ndarray]:
    lines = path.read_text().split("\n")
    assert lines[0].strip() == "x"
    lower, upper = (float(v) for v in lines[1].split())
    rows = [ln.split() for ln in lines[2:] if ln.strip()]
    return {
        "scale_lower": np.array(lower), "scale_upper": np.array(upper),
        "feature_min": np.array([float(r[1]) for r in rows]),
        "feature_max": np.array([float(r[2]) for r in rows]),
    }


def main(root: Path) -> None:
    cb = sio.loadmat(_read(root, "NRIQA/HOSA_release_v0/codebook_hosa.mat"))["codebook_hosa"][0, 0]
    wp = sio.loadmat(_read(root, "NRIQA/HOSA_release_v0/whitening_param.mat"))
    model = sio.loadmat(_read(root, "NRIQA/HOSA_release_v0/hosa_live_model.mat"))["hosa_live_model"][0, 0]
    np.savez_compressed(
        HERE / "hosa_params.npz",
        centroid=cb["centroid_cb"], variance=cb["variance_cb"], skewness=cb["skewness_cb"],
        whiten_mean=wp["M"].ravel(), whiten_proj=wp["P"],
        w=model["w"].ravel(), bias=np.array(float(model["bias"][0, 0])),
        solver=np.array(int(model["Parameters"][0, 0])),
    )
    cc = sio.loadmat(_read(root, "NRIQA/QAC/cluster_center.mat"))["cluster_center"]
    centroids = np.stack([cc[0, i]["centroids"][0, 0] for i in range(cc.shape[1])])
    np.savez_compressed(HERE / "qac_centres.npz", centroids=centroids)
    for name in ("BMPRI", "BPRI"):
        arrays = parse_libsvm_model(_read(root, f"NRIQA/{name}/SVM/model"))
        arrays.update(parse_range(_read(root, f"NRIQA/{name}/SVM/range")))
        if name == "BPRI":
            para = sio.loadmat(_read(root, "NRIQA/BPRI/para.mat"))
            for key in ("paraLSSs", "paraLSSn", "paraPSS"):
                arrays[key] = para[key].ravel()
        np.savez_compressed(HERE / f"{name.lower()}_svm.npz", **arrays)
    print("written:", ", ".join(f.name for f in sorted(HERE.glob("*.npz"))))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
