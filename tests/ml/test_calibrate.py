"""ml.calibrate: fits a finder configuration on the train parts of the real shared data.

Runs on the real data (skipped without ../shared/data) with the instant lexical encoder and
small limits; the shipped configuration of the default model is checked in test_finder.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ml import DuplicateFinder, datasets
from ml.calibrate import choose_threshold, main
from ml.embeddings import load_encoder
from ml.finder import FinderConfig

DATA = Path(
    os.environ.get("VECHE_DATA_DIR", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
)


def test_choose_threshold_separates_clean_classes() -> None:
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    y = np.array([False, False, False, True, True, True])
    t, f = choose_threshold(s, y, np.ones(6), 1.0)
    assert 0.3 < t < 0.7 and f == pytest.approx(1.0)
    # Precision-weighted F0.5 picks a stricter threshold when a negative scores high.
    s2 = np.array([0.1, 0.2, 0.75, 0.6, 0.7, 0.9, 0.95])
    y2 = np.array([False, False, False, True, True, True, True])
    t1, _ = choose_threshold(s2, y2, np.ones(7), 1.0)
    t05, _ = choose_threshold(s2, y2, np.ones(7), 0.5)
    assert t05 > t1


@dataclass
class Run:
    path: Path
    parts_read: list[str]
    stdout: str


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One real calibration through the CLI, with every dataset loader's part recorded."""
    if not (DATA / "paraphraser_ru").is_dir():
        pytest.skip("the shared data folder is not here")
    seen: list[str] = []

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(data: Path, *args: Any, **kwargs: Any) -> Any:
            # Every loader takes the part as its last positional argument.
            seen.append(str(kwargs.get("part", args[-1] if args else None)))
            return fn(data, *args, **kwargs)

        return inner

    out = tmp_path_factory.mktemp("calibrate") / "hashing.json"
    buf = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(buf):
        for name in ("paraphraser", "quora", "sts", "uk_petitions"):
            mp.setattr(datasets, name, wrap(getattr(datasets, name)))
        rc = main(
            [
                "--data",
                str(DATA),
                "--model",
                "hashing-char-ngrams",
                "--out",
                str(out),
                "--quora-limit",
                "300",
                "--sts-limit",
                "200",
                "--paraphraser-limit",
                "600",
                "--no-cache",
                "-q",
            ]
        )
    assert rc == 0
    return Run(out, seen, buf.getvalue())


def test_calibration_reads_only_train_parts(run: Run) -> None:
    assert run.parts_read and set(run.parts_read) == {"train"}


def test_calibration_writes_a_usable_config(run: Run) -> None:
    cfg = FinderConfig.load(run.path)
    enc = load_encoder("hashing-char-ngrams")
    assert cfg.calibrated is True and cfg.model == "hashing-char-ngrams"
    assert cfg.identity == enc.identity
    assert 0.0 < cfg.guard_cap < cfg.threshold <= cfg.near_copy_floor <= 1.0
    assert {"similarity:cyrillic", "similarity:latin"} <= set(cfg.scorer.features)
    assert f"threshold {cfg.threshold:.4f}" in run.stdout
    prov = cfg.to_dict()["provenance"]
    assert prov["data"].startswith("train parts only")
    assert set(prov["datasets"]) >= {"paraphraser", "quora", "sts_ru", "sts_en", "uk"}
    assert prov["datasets"]["quora"]["pairs"] == 300
    for key in ("pp_strict_auc", "quora_auc", "sts_en_spearman", "uk_r10"):
        assert 0.0 <= prov["train_metrics"][key] <= 1.0
    # Char n-grams do find paraphrases better than chance.
    assert prov["train_metrics"]["pp_sl_auc"] > 0.6
    assert prov["train_metrics"]["quora_auc"] > 0.6
    # The file drives a finder.
    finder = DuplicateFinder.load(encoder=enc, config=run.path)
    assert finder.calibrated and finder.threshold == cfg.threshold
    s = finder.pair_scores(
        ["Поставить урны в сквере", "Автобус 15 ходит чаще"],
        ["Поставить больше урн в сквере", "Автобус 51 ходит чаще"],
    )
    assert s[0] > s[1] and s[1] < finder.threshold
    assert json.loads(run.path.read_text(encoding="utf-8"))["version"] == cfg.version


def test_cli_refuses_a_missing_data_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--data", str(tmp_path / "nowhere"), "--model", "hashing-char-ngrams"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "nowhere" in err


def test_cli_names_a_missing_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--data", str(tmp_path), "--model", "hashing-char-ngrams", "--no-cache", "-q"])
    assert exc.value.code == 2
    assert "paraphraser_ru" in capsys.readouterr().err


def test_cli_help_mentions_train_parts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--data" in out and "TRAIN" in out
