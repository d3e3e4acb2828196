"""Leaderboards from hand-made result rows: pooled scores, ranking, CI, renderings."""

import json

import numpy as np
import pandas as pd
import pytest

from segbench.leaderboard import bootstrap_f1, build_leaderboards
from segbench.report.render import to_csv, to_json, to_markdown


def rows(variant, image, threshold, tp, n_true, n_pred, score_sum, seconds=1.0, train=None):
    return {
        "dataset": "d", "image": image, "segmenter": variant.split()[0], "variant": variant,
        "params": json.dumps({}), "threshold": threshold, "criterion": "iou",
        "tp": tp, "fp": n_pred - tp, "fn": n_true - tp, "n_true": n_true, "n_pred": n_pred,
        "sum_matched_score": score_sum, "seg_sum": score_sum, "seg_n": n_true,
        "aji_intersection": 10 * tp, "aji_union": 10 * max(n_true, n_pred) + 5,
        "dsb_mean_accuracy": tp / max(n_true + n_pred - tp, 1), "predict_seconds": seconds,
        "postprocess_seconds": 0.5, "train_seconds": train,
    }


@pytest.fixture
def results():
    data = [
        # "a": image 1: 3 of 4 matched (IoU 0.8 each); image 2: 2 of 2 matched, 1 false positive
        rows("a", "i1", 0.5, 3, 4, 3, 2.4), rows("a", "i2", 0.5, 2, 2, 3, 1.6),
        rows("a", "i1", 0.75, 3, 4, 3, 2.4), rows("a", "i2", 0.75, 2, 2, 3, 1.6),
        # "b": perfect at 0.5, nothing at 0.75
        rows("b x=1", "i1", 0.5, 4, 4, 4, 2.8, seconds=3.0, train=12.0), rows("b x=1", "i2", 0.5, 2, 2, 2, 1.4, seconds=3.0, train=12.0),
        rows("b x=1", "i1", 0.75, 0, 4, 4, 0.0, seconds=3.0, train=12.0), rows("b x=1", "i2", 0.75, 0, 2, 2, 0.0, seconds=3.0, train=12.0),
    ]
    return pd.DataFrame(data)


def test_pooled_scores_and_ranking(results):
    (board,) = build_leaderboards(results, "f1@0.5", (0.5, 0.75))
    first, second = board.rows
    assert (first["variant"], first["rank"], second["variant"], second["rank"]) == ("b x=1", 1, "a", 2)
    # a pooled at 0.5: tp = 5, fp = 1, fn = 1 -> F1 = 10/12, accuracy = 5/7, PQ = (4.0/5) * 5/6
    assert second["f1@0.5"] == pytest.approx(10 / 12)
    assert second["ap@0.5"] == pytest.approx(5 / 7)
    assert second["pq@0.5"] == pytest.approx(0.8 * 5 / 6)
    assert second["seg"] == pytest.approx(4.0 / 6)
    assert second["n_images"] == 2
    assert second["seconds_per_image"] == pytest.approx(1.5)
    assert second["train_seconds"] is None and first["train_seconds"] == 12.0
    # ranking by AP@0.75 flips the order
    (board,) = build_leaderboards(results, "ap@0.75", (0.5, 0.75))
    assert [r["variant"] for r in board.rows] == ["a", "b x=1"]


def test_bootstrap_interval_brackets_the_estimate_and_is_reproducible():
    rng = np.random.default_rng(1)
    tp = rng.integers(5, 10, 30)
    fp = rng.integers(0, 3, 30)
    fn = rng.integers(0, 3, 30)
    f1 = 2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum())
    low, high = bootstrap_f1(tp, fp, fn)
    assert low < f1 < high and high - low < 0.1
    assert bootstrap_f1(tp, fp, fn) == (low, high)
    same = np.full(10, 4)
    assert bootstrap_f1(same, same * 0, same * 0) == (1.0, 1.0)


def test_renderings(results):
    boards = build_leaderboards(results, "f1@0.5", (0.5, 0.75))
    markdown = to_markdown(boards)
    assert markdown.splitlines()[0] == "### d (ranked by F1@0.5)"
    assert markdown.splitlines()[2].startswith("| # | segmenter | F1@0.5 | 95% CI | rank 95% | AP@0.5 | AP@0.75 | DSB AP |")
    assert "| 1 | b | 1.000 | [1.000, 1.000] | 1 | 1.000 | 0.000 |" in markdown
    assert "rank 95%: paired bootstrap over images; b is decisively best" in markdown
    csv_lines = to_csv(boards).splitlines()
    assert csv_lines[0].startswith(
        "dataset,rank,variant,segmenter,f1@0.5,ci_low,ci_high,rank_low,rank_high,ap@0.5,ap@0.75,dsb,"
    )
    assert len(csv_lines) == 3
    payload = json.loads(to_json(boards))
    assert payload[0]["rows"][1]["f1@0.5"] == pytest.approx(10 / 12)
    assert payload[0]["rows"][1]["train_seconds"] is None


def test_json_has_null_where_a_score_is_undefined(results):
    empty = results.assign(seg_sum=0.0, seg_n=0)  # no reference objects: SEG undefined
    (board,) = build_leaderboards(empty, "f1@0.5", (0.5, 0.75))
    assert np.isnan(board.rows[0]["seg"])
    assert json.loads(to_json([board]))[0]["rows"][0]["seg"] is None
