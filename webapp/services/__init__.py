"""Use-cases (submit, vote, comment, register…). No HTTP here; callers own the transaction."""
