"""Human rating studies in the browser: ACR and pairwise, for `videojury mos` and `pairs`.

``create_study`` writes a study folder (SQLite database, ``raters.csv`` with
each rater's token, ``admin_token.txt``, ``study.json``); ``serve_study``
runs the rating web app (``[study]`` extra: Starlette, uvicorn, Jinja2);
``export_study`` writes the answers in the input formats of ``videojury mos``
(ACR) and ``videojury pairs`` (pairwise). Creating and exporting need only
the core dependencies. See docs/study.md.
"""

from __future__ import annotations

from .create import create_study, needs_prompt
from .results import export_study, study_tables

__all__ = ["create_study", "export_study", "needs_prompt", "serve_study", "study_tables"]


def serve_study(*args, **kwargs):
    """Serve a study folder (see :func:`videojury.study.app.serve_study`)."""
    from .app import serve_study as _serve

    return _serve(*args, **kwargs)
