"""Optional compiled loops for the classical metrics' hot spots (the ``fast`` extra).

With numba installed (``pip install "videojury[fast]"``) a few per-pixel
steps of the MATLAB ports run as compiled loops instead of chains of numpy
passes: MATLAB's ``rgb2gray``, BPRI's corner metric, the noise
pseudo-references of BMPRI and BPRI and BMPRI's blurred ones, HOSA's patch
normalisation and codeword sums, and QAC's difference-of-Gaussian patches. numba compiles without
fast-math, so there is no reassociation and no fused multiply-add: each
kernel does the IEEE operations of the numpy code it stands for, in the same
order, and gives the same bits (the tests compare the two paths kernel by
kernel). QAC is the exception: its blurs are computed only at the patch
pixels and summed tap by tap (the numpy path calls OpenCV's separable
filter), and its nearest centres are screened by a single-precision product
with a proven error bound before the double-precision distances are summed
for the few that can matter (the numpy path takes them all from OpenBLAS), so
a blurred pixel or a distance can differ in its last bit; the QAC scores of
the two paths agree to 1e-14 and both equal the Octave numbers in the tests.

Without numba, or with the environment variable ``VIDEOJURY_JIT=0``, the
numpy code runs: the same scores, more slowly. numba is imported on a
kernel's first use, not when the metrics are registered, and compiled code
is cached on disk (numba's ``cache=True``, beside the module or in the
user's cache folder; ``NUMBA_CACHE_DIR`` chooses another), so only the first
process compiles: about 7 s for HOSA, QAC, BMPRI and BPRI together on a
2-core machine, then under a second to load. Where no folder is writable
the kernels are compiled in each process instead.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

__all__ = ["Kernel", "available", "kernel"]

log = logging.getLogger(__name__)

# Read once at import; tests flip it to run the numpy paths.
DISABLED = os.environ.get("VIDEOJURY_JIT", "1").strip().lower() in ("0", "false", "no", "off")
_numba: Any = None
_failed = False


def available() -> bool:
    """Whether the compiled kernels run: numba imports and ``VIDEOJURY_JIT`` is not 0."""
    global _numba, _failed
    if DISABLED or _failed:
        return False
    if _numba is None:
        try:
            import numba
        except ImportError:
            _failed = True
            return False
        except Exception as exc:  # an install numba itself refuses, e.g. a numpy it predates
            _failed = True
            log.warning("numba is installed but does not load (%s); the classical metrics "
                        "use their numpy code", exc)
            return False
        _numba = numba
    return True


class Kernel:
    """A Python loop that numba compiles on its first call.

    ``helpers`` names module globals that are themselves :class:`Kernel` s
    called by this one; they are compiled first and the module's names bound
    to the compiled functions, which numba needs to type the calls.
    """

    def __init__(self, fn: Callable, helpers: tuple[str, ...] = ()) -> None:
        self.fn = fn
        self.helpers = helpers
        self._compiled: Callable | None = None

    def ok(self) -> bool:
        """Whether this kernel runs (else the caller takes its numpy path)."""
        return available()

    def compiled(self) -> Callable:
        if self._compiled is None:
            if not available():
                raise RuntimeError("numba is not available")
            names = self.fn.__globals__
            for name in self.helpers:
                helper = names[name]
                if isinstance(helper, Kernel):
                    names[name] = helper.compiled()
            options = dict(nogil=True, fastmath=False, error_model="numpy")
            try:
                self._compiled = _numba.njit(cache=True, **options)(self.fn)
            except RuntimeError as exc:  # no writable place for numba's cache
                log.warning("numba cannot cache %s (%s): it is compiled in each process",
                            self.fn.__name__, exc)
                self._compiled = _numba.njit(cache=False, **options)(self.fn)
        return self._compiled

    def __call__(self, *args: Any) -> Any:
        return self.compiled()(*args)


def kernel(fn: Callable, *, helpers: tuple[str, ...] = ()) -> Kernel:
    """Wrap the loop ``fn`` as a :class:`Kernel` (see the module docstring)."""
    return Kernel(fn, helpers)
