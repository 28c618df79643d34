"""Experiment: does fine-tuning all-MiniLM-L6-v2 on the TRAIN parts close the English gaps?

Multiple-negatives ranking loss (in-batch negatives, scale 20) on positive pairs from the train
parts only: Quora duplicates, STS-B en pairs scored >= 4, and UK petitions (rejected duplicate ->
its original; title + background). A plain PyTorch loop (no accelerate/datasets needed), CPU.
The result is a sentence-transformers folder; measure it against the base model with

    veche eval --data ../shared/data --methods minilm,cosine:/tmp/minilm-ft

It is an experiment, not the shipped default: fine-tuned weights would have to ship in a package
of their own for the offline default (see docs/dedup.md).

    python -m bench.finetune_minilm --data ../shared/data --out /tmp/minilm-ft [--epochs 1]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from ml import datasets as d


def positives(data: Path) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    q = d.quora(data, "train", limit=4000)
    pairs += [(a, b) for a, b, y in zip(q.a, q.b, q.labels, strict=True) if y == 1]
    s = d.sts(data, "en", "train")
    pairs += [(a, b) for a, b, y in zip(s.a, s.b, s.labels, strict=True) if y >= 4.0]
    uk = d.uk_petitions(data, "train")
    for qi, origs in uk.queries:
        for o in origs:
            pairs.append((uk.texts[qi], uk.texts[o]))
    return pairs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--max-seq", type=int, default=128)
    args = ap.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer

    from ml.embeddings import minilm_path

    torch.set_num_threads(2)
    torch.manual_seed(13)
    model = SentenceTransformer(str(minilm_path()), device="cpu")
    model.max_seq_length = args.max_seq
    pairs = positives(args.data)
    print(f"{len(pairs)} positive train pairs", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    rng = random.Random(13)
    model.train()
    started = time.perf_counter()
    for epoch in range(args.epochs):
        rng.shuffle(pairs)
        for step in range(0, len(pairs) - args.batch + 1, args.batch):
            batch = pairs[step : step + args.batch]
            fa = model.tokenize([a for a, _ in batch])
            fb = model.tokenize([b for _, b in batch])
            ea = torch.nn.functional.normalize(model(fa)["sentence_embedding"], dim=1)
            eb = torch.nn.functional.normalize(model(fb)["sentence_embedding"], dim=1)
            logits = 20.0 * ea @ eb.T
            labels = torch.arange(len(batch))
            loss = (
                torch.nn.functional.cross_entropy(logits, labels)
                + torch.nn.functional.cross_entropy(logits.T, labels)
            ) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            if (step // args.batch) % 10 == 0:
                print(
                    f"epoch {epoch} step {step // args.batch} loss {loss.item():.3f} "
                    f"{time.perf_counter() - started:.0f} s",
                    flush=True,
                )
    model.eval()
    model.max_seq_length = 256
    model.save(str(args.out))
    print(f"saved {args.out} after {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
