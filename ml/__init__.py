"""Machine learning: sentence embeddings, vector search, duplicate detection and clustering.

Pure arrays plus one thin model adapter (``ml/embeddings.py`` will be the only module importing
sentence-transformers). It imports nothing from the web or the database (import-linter contracts
in pyproject.toml enforce it). Duplicate detection arrives with the "Dedup" issue.
"""
