"""Rank agreement between datasets: tau-b and rho with ties, the bootstrap,
shared variants, the segmenter level, the transfer matrix, decisive pairs,
calibration, the tau-b ceiling, the command, and the paired bootstrap of one
dataset (rank intervals, who is told apart from the winner)."""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segbench.cli import main
from segbench.leaderboard import build_leaderboards
from segbench.agreement import agreement, compare, kendall_tau_b, rankings, spearman_rho, transfer_matrix
from segbench.report.agreement_render import rich_tables, to_markdown
from segbench.paired import bootstrap_weights, decisive_pairs, half_weights, rank_intervals
from segbench.report.render import to_markdown as leaderboard_markdown
from segbench.results import ERROR_COLUMNS

N = 100  # objects per image on both sides: F1 = tp / N


def results(scores, train=None, thresholds=(0.5, 0.75)):
    """A results table from ``scores[dataset][(plugin, x)] = [tp of image 0, tp of image 1, ...]``
    (F1 of an image = tp / 100). ``train[(dataset, plugin)]`` sets train_dataset."""
    rows = []
    for dataset, variants in scores.items():
        for (plugin, x), tps in variants.items():
            trained = (train or {}).get((dataset, plugin))
            for i, tp in enumerate(tps):
                for t in thresholds:
                    rows.append({
                        "dataset": dataset, "image": f"img{i}", "segmenter": plugin if trained is None else f"{plugin}@{trained}",
                        "segmenter_name": plugin, "variant": f"{plugin} x={x}", "config_id": f"cfg-{plugin}",
                        "params": json.dumps({"x": x}), "threshold": t, "criterion": "iou",
                        "tp": tp, "fp": N - tp, "fn": N - tp, "n_true": N, "n_pred": N, "sum_matched_score": 0.8 * tp,
                        "seg_sum": 0.7 * tp, "seg_n": N, "aji_intersection": tp, "aji_union": 2 * N,
                        "dsb_mean_accuracy": tp / (2 * N - tp), "predict_seconds": 0.1, "postprocess_seconds": 0.0,
                        "train_seconds": None, "train_dataset": trained or "",
                    })
    frame = pd.DataFrame(rows)
    if train is None:
        frame = frame.drop(columns="train_dataset")
    return frame


def variants(*tps_per_variant, plugin="p"):
    return {(plugin, x): list(tps) for x, tps in enumerate(tps_per_variant, 1)}


# --------------------------------------------------------------------------- statistics


def test_tau_b_and_rho_hand_computed_with_ties():
    # no ties: 5 concordant, 1 discordant of 6 pairs
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # one pair tied in x, one in y: C = 4, D = 0, n0 = 6 -> 4 / sqrt(5 * 5)
    assert kendall_tau_b([1, 1, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    # C = 4, D = 1, one tie in x -> 3 / sqrt(5 * 6)
    assert kendall_tau_b([0.9, 0.8, 0.8, 0.5], [0.7, 0.9, 0.6, 0.5]) == pytest.approx(3 / math.sqrt(30))
    # rho = 1 - 6 sum d^2 / (n (n^2 - 1)) without ties
    assert spearman_rho([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(1 - 6 * 2 / 60)
    assert math.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3])) and math.isnan(spearman_rho([1, 1, 1], [1, 2, 3]))


def test_batched_statistics_equal_scipy_on_tied_data():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (50, 6)).astype(float)
    y = rng.integers(0, 3, (50, 6)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about constant rows (NaN)
        tau = [stats.kendalltau(a, b).statistic for a, b in zip(x, y)]
        rho = [stats.spearmanr(a, b).statistic for a, b in zip(x, y)]
    np.testing.assert_allclose(kendall_tau_b(x, y), tau, equal_nan=True)
    np.testing.assert_allclose(spearman_rho(x, y), rho, equal_nan=True)


# --------------------------------------------------------------------------- pairs


def test_pair_statistics_ties_and_swaps():
    table = results({
        "A": variants([90], [80], [80], [50]),
        "B": variants([70], [90], [60], [50]),
    })
    result = agreement(table, n_boot=0)
    (pair,) = result.pairs
    assert (pair.a, pair.b, pair.n) == ("A", "B", 4)
    assert pair.kendall_tau == pytest.approx(3 / math.sqrt(30))
    assert pair.spearman_rho == pytest.approx(stats.spearmanr([90, 80, 80, 50], [70, 90, 60, 50]).statistic)
    assert not pair.same_winner and (pair.winner_a, pair.winner_b) == ("p x=1", "p x=2")
    # competition ranks: A 1, 2, 2, 4; B 2, 1, 3, 4
    assert [(s.name, s.rank_a, s.rank_b) for s in pair.swaps] == [("p x=1", 1, 2), ("p x=2", 2, 1), ("p x=3", 2, 3)]
    assert [s.text() for s in pair.swaps] == ["1 -> 2", "2= -> 1", "2= -> 3"]  # ties shown as ties
    assert "tied variants share the best rank, marked =" in to_markdown(result)


def test_scores_equal_the_leaderboard():
    table = results({"A": variants([90, 10], [80, 70], [30, 99]), "B": variants([5, 6], [7, 8], [9, 9])})
    table = table[~((table["variant"] == "p x=2") & (table["image"] == "img1") & (table["dataset"] == "A"))]  # a failed cell
    for metric in ("f1@0.5", "ap@0.75", "pq@0.5", "dsb", "seg", "aji"):
        ranking = rankings(table, metric, n_boot=0)["A"]
        board = build_leaderboards(table[table["dataset"] == "A"], metric, (0.5, 0.75))[0]
        expected = {row["variant"]: row[metric] for row in board.rows}
        assert dict(zip(ranking.names, ranking.scores)) == pytest.approx(expected), metric


def test_pairs_with_missing_variants():
    table = results({
        "A": variants([90], [80], [70], [60]),
        "B": {("p", 1): [50], ("p", 2): [60], ("p", 3): [70], ("p", 9): [99]},
        "C": {("p", 1): [50], ("q", 1): [60]},
    })
    result = agreement(table, n_boot=0)
    pairs = {(p.a, p.b): p for p in result.pairs}
    assert pairs[("A", "B")].n == 3 and pairs[("A", "B")].kendall_tau == pytest.approx(-1.0)
    assert [name for name, _, _ in pairs[("A", "B")].variants] == ["p x=1", "p x=2", "p x=3"]
    assert result.unpaired == [("A", "C", 1), ("B", "C", 1)]
    with pytest.raises(ValueError, match="share 1 scored variant"):
        compare(*(rankings(table, n_boot=0)[d] for d in ("A", "C")))


def test_reference_compares_each_dataset_with_it_only():
    table = results({"real": variants([90, 80], [70, 60], [50, 40]), "X": variants([1, 2], [3, 4], [5, 6]),
                     "Y": variants([9, 9], [8, 8], [7, 7])})
    every = {(p.a, p.b): p for p in agreement(table, n_boot=200).pairs}
    ref = agreement(table, reference="real", n_boot=200)
    assert [(p.a, p.b) for p in ref.pairs] == [("X", "real"), ("Y", "real")]
    assert ref.pairs[1].kendall_tau == pytest.approx(1.0) and ref.pairs[0].kendall_tau == pytest.approx(-1.0)
    # a dataset's bootstrap draw depends on the seed and its name only: the same intervals either way
    assert ref.pairs[1].kendall_ci == every[("real", "Y")].kendall_ci
    with pytest.raises(ValueError, match="did you mean 'real'"):
        agreement(table, reference="reel")


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_interval_on_hand_made_rankings():
    # A ranks x=1 > x=2 > x=3 on every image. B's image 0 agrees, image 1 reverses it
    # (and outweighs image 0 when both are drawn): a replicate of B's images draws image 0
    # twice (p = 1/4, tau = 1), image 1 twice (1/4, tau = -1) or both (1/2, tau = -1).
    table = results({
        "A": variants([90, 90], [80, 80], [70, 70]),
        "B": variants([60, 10], [50, 30], [40, 50]),
    })
    (pair,) = agreement(table, n_boot=1000, seed=0).pairs
    assert pair.kendall_tau == pytest.approx(-1.0)
    assert pair.kendall_ci == (-1.0, 1.0)  # P(tau = 1) = 1/4 > 2.5%
    again = agreement(table, n_boot=1000, seed=0).pairs[0]
    assert again == pair  # deterministic for a seed
    ranking = rankings(table, n_boot=2000, seed=1)["B"]
    share_agreeing = np.mean(kendall_tau_b(np.tile([3.0, 2.0, 1.0], (2000, 1)), ranking.resampled) == 1)
    assert share_agreeing == pytest.approx(0.25, abs=0.03)


def test_bootstrap_of_consistent_rankings_is_a_point():
    table = results({"A": variants([90, 85, 95], [80, 75, 85], [70, 60, 65]),
                     "B": variants([50, 55, 60], [40, 45, 50], [30, 20, 35])})
    (pair,) = agreement(table, n_boot=300, seed=7).pairs
    assert pair.kendall_tau == 1.0 and pair.kendall_ci == (1.0, 1.0) and pair.spearman_ci == (1.0, 1.0)
    assert pair.same_winner


def test_seed_changes_the_draw_not_the_estimate():
    table = results({"A": variants([90, 10, 50], [80, 70, 20], [30, 99, 40]),
                     "B": variants([5, 60, 7], [7, 8, 90], [9, 9, 30])})
    a, b = rankings(table, n_boot=400, seed=0)["A"], rankings(table, n_boot=400, seed=1)["A"]
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.array_equal(a.resampled, b.resampled)
    np.testing.assert_array_equal(a.resampled, rankings(table, n_boot=400, seed=0)["A"].resampled)


# --------------------------------------------------------------------------- levels, transfer


def test_segmenter_level_compares_best_variants():
    table = results({
        "A": {("p", 1): [90], ("p", 2): [60], ("q", 1): [80], ("r", 1): [70]},
        "B": {("p", 1): [10], ("p", 2): [95], ("q", 1): [50], ("r", 1): [60]},
    })
    (variant_pair,) = agreement(table, n_boot=0).pairs
    (pair,) = agreement(table, level="segmenter", n_boot=0).pairs
    assert variant_pair.n == 4 and pair.n == 3
    assert [name for name, _, _ in pair.variants] == ["p", "q", "r"]
    assert [(sa, sb) for _, sa, sb in pair.variants] == [(0.9, 0.95), (0.8, 0.5), (0.7, 0.6)]
    assert pair.kendall_tau == pytest.approx(1 / 3) and pair.same_winner
    with pytest.raises(ValueError, match="did you mean 'segmenter'"):
        agreement(table, level="segmenters")


def test_transfer_matrix_and_in_domain_rankings():
    scores = {
        "real": {("cp", 1): [60], ("cp", 2): [70], ("otsu", 1): [80]},
        "clean": {("cp", 1): [99], ("cp", 2): [98], ("otsu", 1): [90]},
    }
    in_domain = results(scores, train={("real", "cp"): "real", ("clean", "cp"): "clean"})
    transfer = results({"real": {("cp", 1): [20], ("cp", 2): [30]}, "clean": {("cp", 1): [40], ("cp", 2): [10]}},
                       train={("real", "cp"): "clean", ("clean", "cp"): "real"})
    table = pd.concat([in_domain, transfer], ignore_index=True)
    cells = [(c.segmenter, c.train_dataset, c.test_dataset, c.value, c.variant) for c in transfer_matrix(table)]
    assert cells == [
        ("cp", "real", "real", 0.7, "cp x=2"),
        ("cp", "real", "clean", 0.4, "cp x=1"),
        ("cp", "clean", "real", 0.3, "cp x=2"),
        ("cp", "clean", "clean", 0.99, "cp x=1"),
    ]
    # the rankings see only models trained on the data they are tested on
    (pair,) = agreement(table, n_boot=0).pairs
    assert dict((n, (a, b)) for n, a, b in pair.variants) == {
        "cp x=1": (0.6, 0.99), "cp x=2": (0.7, 0.98), "otsu": (0.8, 0.9)}
    assert transfer_matrix(results(scores)) == []  # no train_dataset column: no matrix


# --------------------------------------------------------------------------- rendering and the command


def write_results(folder, table):
    folder.mkdir()
    table.to_parquet(folder / "results.parquet")
    (folder / "suite.json").write_text(json.dumps({"name": "t", "iou_thresholds": [0.5, 0.75], "rank_by": "f1@0.5"}))
    return folder


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path):
    table = results({
        "nuclei-clean-with-a-long-name": variants([90, 80], [80, 85], [70, 60], [50, 55]),
        "nuclei-crowded": variants([70, 60], [90, 95], [60, 50], [50, 40]),
        "real": variants([60, 70], [65, 60], [50, 40], [55, 45]),
    }, train={})
    return write_results(tmp_path / "out", table)


def test_command_table_and_json(capsys, folder, tmp_path):
    code, out, err = run_cli(capsys, "agreement", str(folder), "--json", str(tmp_path / "a.json"))
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Rank agreement by F1@0.5" in out and "Largest rank swaps" in out and "tau-b" in out
    payload = json.loads((tmp_path / "a.json").read_text())
    assert list(payload)[:3] == ["metric", "level", "pairs"]
    assert (payload["metric"], payload["level"], len(payload["pairs"])) == ("f1@0.5", "variant", 3)
    pair = payload["pairs"][0]
    assert list(pair)[:7] == ["a", "b", "n", "kendall_tau", "kendall_ci", "spearman_rho", "same_winner"]
    assert isinstance(pair["n"], int) and isinstance(pair["same_winner"], bool) and len(pair["kendall_ci"]) == 2
    assert payload["transfer"] == [] and payload["not_compared"] == []

    code, out, _ = run_cli(capsys, "agreement", str(folder), "--reference", "real", "--level", "segmenter",
                           "--metric", "ap@0.75")
    assert code == 2  # one segmenter: nothing to rank
    code, out, _ = run_cli(capsys, "agreement", str(folder), "--reference", "real", "--metric", "ap@0.75")
    assert code == 0 and "AP@0.75" in out and "nuclei-crowded" in out


def test_markdown_has_pairs_and_transfer():
    table = pd.concat([
        results({"real": variants([60], [70]), "clean": variants([99], [98])},
                train={("real", "p"): "real", ("clean", "p"): "clean"}),
        results({"real": variants([20], [30])}, train={("real", "p"): "clean"}),
    ])
    text = to_markdown(agreement(table, reference="real", n_boot=50))
    assert "| clean | real | 2 | -1.00 [-1.00, -1.00] |" in text
    assert "| p | clean | **0.990** | 0.300 |" in text or "| p | clean | 0.300 | **0.990** |" in text
    assert rich_tables(agreement(table, n_boot=0))


def test_command_errors_are_one_line(capsys, folder, tmp_path):
    code, _, err = run_cli(capsys, "agreement", str(tmp_path / "nope"))
    assert code == 2 and "no such folder" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "agreement", str(tmp_path / "empty"))
    assert code == 2 and "no results.parquet" in err
    code, _, err = run_cli(capsys, "agreement", str(folder), "--metric", "presicion@0.5")
    assert code == 2 and "did you mean 'precision'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "agreement", str(folder), "--metric", "f1@0.9")
    assert code == 2 and "stored thresholds: 0.5, 0.75" in err

    lonely = write_results(tmp_path / "lonely", results({"A": variants([90], [80]), "B": {("q", 1): [50], ("q", 2): [60]}}))
    code, _, err = run_cli(capsys, "agreement", str(lonely))
    assert code == 2 and "no two datasets share 2 or more variants" in err

    partial = write_results(tmp_path / "partial", results({
        "A": variants([90], [80]), "B": variants([50], [60]), "C": {("q", 1): [50], ("q", 2): [60]}}))
    code, out, err = run_cli(capsys, "agreement", str(partial))
    assert code == 1 and "not compared: A vs C share 0 variant(s)" in out


def test_undefined_statistics_are_null_in_json():
    table = results({"A": variants([90], [90], [90]), "B": variants([10], [20], [30])})  # A ties every variant
    result = agreement(table, n_boot=20)
    (pair,) = result.pairs
    assert math.isnan(pair.kendall_tau) and pair.same_winner
    payload = json.loads(result.to_json())["pairs"][0]
    assert payload["kendall_tau"] is None and payload["kendall_ci"] == [None, None]


def test_transfer_table_only_when_a_model_left_its_training_data():
    scores = {"real": variants([60], [70]), "clean": variants([99], [98])}
    in_domain = results(scores, train={("real", "p"): "real", ("clean", "p"): "clean"})
    assert "Transfer" not in to_markdown(agreement(in_domain, n_boot=0))
    moved = pd.concat([in_domain, results({"real": variants([20], [30])}, train={("real", "p"): "clean"})])
    assert "Transfer" in to_markdown(agreement(moved, n_boot=0))


# --------------------------------------------------------------------------- decisive pairs, calibration, ceiling
# Reference R: x=1 and x=2 near 0.85, x=3 and x=4 near 0.45, on 20 images. Within each group the per-image
# differences alternate +11, -9 (mean 1, a tie within noise); across groups every image differs by about 40
# (decisive). So R's decisive pairs are (1, 3), (1, 4), (2, 3), (2, 4); (1, 2) and (3, 4) are ties.
HIGH, HIGH_SWAPPED = [91, 81] * 10, [80, 90] * 10  # 0.86, 0.85
LOW, LOW_SWAPPED = [51, 41] * 10, [40, 50] * 10  # 0.46, 0.45
REFERENCE = variants(HIGH, HIGH_SWAPPED, LOW, LOW_SWAPPED)


def test_same_decisive_pairs_with_shuffled_ties_keep_everything_and_tau_is_low():
    table = results({"X": variants(HIGH_SWAPPED, HIGH, LOW_SWAPPED, LOW), "R": REFERENCE})
    (pair,) = agreement(table, reference="R", n_boot=1000).pairs
    assert (pair.decisive_reference, pair.decisive_kept, pair.decisive_reversed) == (4, 4, 0)
    assert (pair.decisive_confirmed, pair.decisive_contradicted) == (4, 0)
    assert (pair.tied_reference, pair.spurious) == (2, 0)
    assert pair.reversed_pairs == () and pair.spurious_pairs == ()
    assert pair.kendall_tau == pytest.approx(1 / 3)  # the two ties swapped: (4 - 2) / 6
    assert pair.calibration_mae == pytest.approx(0.01)  # every variant 1 point off
    low, high = pair.calibration_ci
    assert 0 <= low <= high < 0.05


def test_reversed_contradicted_and_spurious_pairs():
    # X: x=1 falls to 0.45, x=3 rises to 0.85
    table = results({"X": variants(LOW_SWAPPED, HIGH, HIGH_SWAPPED, LOW), "R": REFERENCE})
    (pair,) = agreement(table, reference="R", n_boot=1000).pairs
    # (1, 3): decisive the other way; (1, 4): 0.45 < 0.46, a tie on X in the wrong order;
    # (2, 3): 0.86 > 0.85, same order, a tie on X; (2, 4): decisive, same direction
    assert (pair.decisive_reference, pair.decisive_kept, pair.decisive_reversed) == (4, 2, 2)
    assert (pair.decisive_confirmed, pair.decisive_contradicted) == (1, 1)
    assert set(pair.reversed_pairs) == {("p x=1", "p x=3"), ("p x=1", "p x=4")}
    # the ties of R, (1, 2) and (3, 4), are decisive on X
    assert (pair.tied_reference, pair.spurious) == (2, 2)
    assert set(pair.spurious_pairs) == {("p x=2", "p x=1"), ("p x=3", "p x=4")}
    assert pair.calibration_mae == pytest.approx((41 + 1 + 39 + 1) / 400)
    payload = json.loads(agreement(table, reference="R", n_boot=200).to_json())["pairs"][0]
    for field in ("decisive_reference", "decisive_kept", "decisive_reversed", "spurious", "calibration_mae",
                  "calibration_ci", "tau_ceiling", "tau_ceiling_ci"):
        assert field in payload
    assert payload["decisive_reversed"] == 2 and len(payload["calibration_ci"]) == 2


def test_tau_ceiling_is_one_for_a_reference_without_noise_and_low_for_one_of_ties():
    steady = results({"X": variants([5] * 20, [6] * 20, [7] * 20), "R": variants([90] * 20, [80] * 20, [70] * 20)})
    (pair,) = agreement(steady, reference="R", n_boot=100).pairs
    assert pair.tau_ceiling == 1.0 and pair.tau_ceiling_ci == (1.0, 1.0)
    assert pair.decisive_reference == 3 and pair.decisive_reversed == 3 and pair.decisive_contradicted == 3
    rng = np.random.default_rng(5)
    noise = {("p", x): list(rng.integers(40, 90, 40)) for x in range(1, 6)}  # five variants, one distribution
    (pair,) = agreement(results({"X": noise, "R": noise}), reference="R", n_boot=200).pairs
    assert pair.kendall_tau == 1.0  # a dataset against itself
    assert abs(pair.tau_ceiling) < 0.4 and pair.tau_ceiling_ci[0] < 0 < pair.tau_ceiling_ci[1]


def test_without_replicates_nothing_is_decisive():
    (pair,) = agreement(results({"X": REFERENCE, "R": REFERENCE}), reference="R", n_boot=0).pairs
    assert pair.decisive_reference == 0 and pair.tied_reference == 6 and pair.spurious == 0
    assert math.isnan(pair.tau_ceiling) and pair.calibration_mae == 0.0


# --------------------------------------------------------------------------- paired bootstrap on one dataset


def test_rank_intervals_of_hand_made_replicates():
    # replicate 1: a > b; 2: b > a; 3: a > b; ties share the best rank
    low, high = rank_intervals(np.array([[0.9, 0.8], [0.7, 0.8], [0.9, 0.1]]))
    assert low.tolist() == [1, 1] and high.tolist() == [2, 2]
    low, high = rank_intervals(np.array([[0.5, 0.5, 0.1]] * 10))
    assert low.tolist() == [1, 1, 3] and high.tolist() == [1, 1, 3]
    # a NaN score ranks last
    low, high = rank_intervals(np.array([[np.nan, 0.2]] * 4))
    assert low.tolist() == [2, 1] and high.tolist() == [2, 1]


def test_decisive_pairs_are_the_differences_whose_interval_excludes_zero():
    replicates = np.array([[0.9, 0.5, 0.6], [0.8, 0.6, 0.5], [0.7, 0.5, 0.5]])
    signs = decisive_pairs(replicates)
    assert signs.tolist() == [[0, 1, 1], [-1, 0, 0], [-1, 0, 0]]
    np.testing.assert_array_equal(signs, -signs.T)
    # b wins 2 replicates of 40 (5%): the 2.5% quantile of a - b is below 0 -> a tie; 1 of 40 is not enough
    assert decisive_pairs(np.array([[0.9, 0.8]] * 38 + [[0.7, 0.8]] * 2))[0, 1] == 0
    assert decisive_pairs(np.array([[0.9, 0.8]] * 39 + [[0.7, 0.8]]))[0, 1] == 1
    assert decisive_pairs(np.zeros((0, 3))).tolist() == [[0] * 3] * 3


def test_weights():
    boot = bootstrap_weights(7, 50, seed=3)
    assert boot.shape == (50, 7) and (boot.sum(1) == 7).all()
    np.testing.assert_array_equal(boot, bootstrap_weights(7, 50, seed=3))
    assert not np.array_equal(bootstrap_weights(7, 50, 3, "a"), bootstrap_weights(7, 50, 3, "b"))
    halves = half_weights(7, 20, seed=1)
    assert halves.shape == (20, 2, 7)
    assert (halves.sum(1) == 1).all() and (halves[:, 0].sum(1) == 3).all()


def test_leaderboard_rank_intervals_and_who_is_told_apart_from_the_winner():
    # 20 images: x=1 and x=2 tie within noise (differences +11 / -9), x=3 is 40 points lower on every image
    table = results({"d": variants([91, 81] * 10, [80, 90] * 10, [45] * 20)})
    (board,) = build_leaderboards(table, "f1@0.5", (0.5, 0.75))
    rows = {row["label"]: row for row in board.rows}
    assert [row["label"] for row in board.rows] == ["p x=1", "p x=2", "p x=3"]
    assert rows["p x=1"]["rank_ci"] == (1, 2) and rows["p x=2"]["rank_ci"] == (1, 2)
    assert rows["p x=3"]["rank_ci"] == (3, 3)
    assert [row["decisive"] for row in board.rows] == [False, False, True]
    assert board.uncertainty_notes() == [
        "rank 95%: paired bootstrap over images; not told apart from the winner: p x=2"
    ]
    text = leaderboard_markdown([board])
    assert "| 1 | p x=1 | 0.860 |" in text and "| 1-2 |" in text and "| 3 |" in text
    # the interval of each row is its column of the same paired replicates
    low, high = rows["p x=3"]["ci"]
    assert low == high == pytest.approx(0.45)


def test_a_failed_cell_leaves_the_variant_its_other_images():
    table = results({"d": variants([90] * 4, [50] * 4)})
    table = table[~((table["variant"] == "p x=2") & (table["image"] == "img0"))]
    (board,) = build_leaderboards(pd.DataFrame(table), "f1@0.5", (0.5, 0.75))
    assert [row["rank_ci"] for row in board.rows] == [(1, 1), (2, 2)]
    assert board.rows[1]["ci"] == pytest.approx((0.5, 0.5))


# --------------------------------------------------------------------------- how each dataset fails


def with_errors(table, counts):
    """``table`` with the error counts ``counts[(dataset, variant)] = (merged, split, missed, spurious)``
    on every image of that variant (of its N true objects and N predictions); other rows get none (NaN)."""
    table = table.copy()
    for column in ERROR_COLUMNS:
        table[column] = np.nan
    for (dataset, variant), (merged, split, missed, spurious) in counts.items():
        rows = (table["dataset"] == dataset) & (table["variant"] == variant)
        table.loc[rows, list(ERROR_COLUMNS)] = [N - merged - split - missed, merged, split, missed, spurious]
    return table


def test_how_each_dataset_fails_against_the_reference():
    table = with_errors(results({"real": variants([60, 60], [70, 70], [50, 50]), "fitted": variants([90, 90], [95, 95], [80, 80])}), {
        ("real", "p x=1"): (20, 0, 5, 10), ("real", "p x=2"): (10, 2, 5, 20),
        ("fitted", "p x=1"): (2, 0, 1, 4), ("fitted", "p x=2"): (4, 2, 1, 6),
        ("fitted", "p x=3"): (50, 0, 0, 0),  # no counts for it on real: left out of the means
    })
    (pair,) = agreement(table, reference="real", n_boot=20).pairs
    assert pair.error_variants == 2
    assert pair.errors_a == pytest.approx({"merged": 0.03, "split": 0.01, "missed": 0.01, "spurious": 0.05})
    assert pair.errors_b == pytest.approx({"merged": 0.15, "split": 0.01, "missed": 0.05, "spurious": 0.15})
    payload = json.loads(agreement(table, reference="real", n_boot=20).to_json())["pairs"][0]
    assert payload["error_variants"] == 2 and payload["errors_b"]["merged"] == pytest.approx(0.15)
    text = to_markdown(agreement(table, reference="real", n_boot=20))
    assert "| fitted | real | 3.0 / 15.0 | 1.0 / 1.0 | 1.0 / 5.0 | 5.0 / 15.0 |" in text
    rendered = "\n".join(str(r.title) if hasattr(r, "title") else str(r) for r in rich_tables(agreement(table, reference="real")))
    assert "How a fails, against b (a / b, in %)" in rendered


def test_results_without_error_counts_show_no_errors_table():
    table = results({"real": variants([60], [70]), "fitted": variants([90], [95])})
    (pair,) = agreement(table, reference="real", n_boot=0).pairs
    assert (pair.errors_a, pair.errors_b, pair.error_variants) == ({}, {}, 0)
    assert "How a fails" not in to_markdown(agreement(table, reference="real", n_boot=0))
