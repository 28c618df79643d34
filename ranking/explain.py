"""Explanations: the numbers behind a rank, and why votes lost weight."""

from __future__ import annotations

from typing import Any

import numpy as np

from ranking import scores as S
from ranking.aggregate import Aggregates, Tables
from ranking.incremental import VoteState, live_votes
from ranking.order import rank_of
from ranking.scores import RankingConfig
from ranking.weights import WeightConfig, _budget_table

F64 = np.ndarray[Any, np.dtype[np.float64]]


def explain_rank(
    agg: Aggregates,
    t: Tables,
    viewers: F64,
    alive: np.ndarray[Any, np.dtype[np.bool_]],
    all_scores: F64,
    config: RankingConfig,
    idea: int,
    scheme: str,
    rank: int | None = None,
) -> dict[str, Any]:
    """See :meth:`ranking.snapshot.Snapshot.explain`.

    ``all_scores`` may hold just the canonical idea's score (length 1) when ``rank`` is given.
    """
    c = int(t.canonical[idea])
    score = float(all_scores[0] if rank is not None else all_scores[c])
    sup_raw = float(agg.voters[c] - agg.opposers[c])
    sup_w = float(agg.support[c])
    v = float(viewers[c])
    e = max(v, float(agg.voters[c]))
    out: dict[str, Any] = {
        "idea": idea,
        "canonical": c,
        "merged": c != idea,
        "scheme": scheme,
        "score": score,
        "rank": rank if rank is not None else rank_of(all_scores, alive, c),
        "raw_supporters": int(round(sup_raw)),
        "raw_opposers": int(round(float(agg.opposers[c]))),
        "weighted_support": sup_w,
        "weighted_oppose": float(agg.oppose[c]),
        "discounted_weight": max(sup_raw - sup_w, 0.0),
        "mean_weight": sup_w / sup_raw if sup_raw > 0 else 1.0,
        "viewers": int(v),
        "denominator": e,
        "prior_mean": config.prior_mean,
        "prior_strength": config.prior_strength,
        "prior_share": config.prior_strength / (e + float(agg.oppose[c]) + config.prior_strength),
    }
    if scheme == "trending":
        out["half_life_s"] = config.half_life_s
    if scheme == "broad":
        k = t.n_okrugs
        rates = S.okrug_rates(agg.okrug_support[:k, c : c + 1], viewers[c : c + 1], t.share, config)
        out["okrug_rates"] = [float(r) for r in rates[:, 0]]
    return out


def discount_counts(state: VoteState, config: WeightConfig, idea: int) -> dict[str, int]:
    """How many current votes on the idea's cluster lost weight, and to which factor."""
    c = int(state.t.canonical[idea])
    ii, uu, values, s = live_votes(state, c)
    t = state.t
    uc = t.user_code[uu].astype(np.int64)
    base = t.wtab[t.idea_dcode[ii].astype(np.int64) * t.n_user_codes + uc]
    verified = uc % 2 == 1
    resident = np.where(verified, config.verified, config.unverified)
    district = np.divide(base, resident, out=np.ones_like(base), where=resident > 0)
    if state.counts is not None:
        budget = _budget_table(state.counts[uu], config.budget)
    else:
        budget = np.ones(uu.shape[0])
    factor = base * budget * (1.0 - config.max_suspicion_discount * s)
    return {
        "votes": int(ii.shape[0]),
        "supports": int(np.count_nonzero(values > 0)),
        "discounted": int(np.count_nonzero(factor < 1.0)),
        "unverified": int(np.count_nonzero(resident < 1.0)),
        "district": int(np.count_nonzero(district < 1.0)),
        "budget": int(np.count_nonzero(budget < 1.0)),
        "suspicion": int(np.count_nonzero(s > 0.0)),
    }
