"""Classical no-reference image quality metrics: NIQE, BRISQUE and PIQE.

Each metric has a pure functional core (``niqe``, ``brisque``, ``piqe``) that
takes one uint8 RGB (H, W, 3) or grayscale (H, W) image and returns a float,
written to give the numbers of the reference MATLAB releases. ``matlab``
holds the MATLAB-compatible building blocks they share (``rgb2gray``,
antialiased bicubic ``imresize``, the Gaussian window, the GGD/AGGD fits).
The registered video metrics built on top of them live at the bottom of each
metric's module. See ``docs/metrics.md`` for the algorithms, the reference
comparison and the edge-case policy.
"""
