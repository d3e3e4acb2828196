"""The terminal leaderboard: readable at 80, 100 and 120 columns, ties broken and
marked, any metric at any stored threshold, one name for AP."""

import io
import json
import re

import pytest
from rich.console import Console

from segbench.cli.report import WIDE_CONSOLE
from segbench.leaderboard import build_leaderboards
from segbench.metrics import DEFAULT_THRESHOLDS as SUITE_THRESHOLDS
from segbench.report.render import rich_tables, to_csv, to_json
from segbench.results import parse_metric_key


@pytest.fixture(scope="module")
def boards(default_like_results):
    return build_leaderboards(default_like_results, "f1@0.5", SUITE_THRESHOLDS)


def printed(boards, width, wide=False) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    for renderable in rich_tables(boards, width=width, wide=wide):
        console.print(renderable)
    return console.file.getvalue()


LABELS = ["cellpose cellprob_threshold=1", "cellpose cellprob_threshold=0", "cellpose cellprob_threshold=-1",
          "otsu-watershed", "stardist"]


@pytest.mark.parametrize("width, n_scores", [(80, 4), (100, 6), (120, 8)])
def test_table_fits_the_terminal_and_every_row_can_be_told_apart(boards, width, n_scores):
    text = printed(boards, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in text  # nothing cut
    for label in LABELS:  # short labels: bsize=288 is the same for every cellpose row, so it is left out
        assert sum(label + " " in line for line in lines) == len(boards), label
    # every row of the first board shows its rank, label and complete numbers
    first = lines[: lines.index(next(l for l in lines if l.startswith("= ranks")))]
    rows = [l for l in first if re.match(r"^\s*\d=?\s", l)]
    assert len(rows) == 5
    for row in rows:
        numbers = re.findall(r"\d\.\d{3}", row)
        assert len(numbers) >= n_scores  # F1, CI (2), AP@0.5 ... none of them "1.…"
    header = next(l for l in first if "segmenter" in l)
    assert header.split()[:5] == ["#", "segmenter", "F1@0.5", "95%", "CI"]


def test_narrow_table_names_the_hidden_columns_and_wide_shows_them(boards):
    narrow = printed(boards, 80)
    hidden = "AP@0.75, AP@0.9, DSB AP, PQ@0.5, SEG, s/image, train s"
    assert f"more column(s) ({hidden}): --wide, or the HTML report" in " ".join(narrow.split())
    assert all(len(line) <= 80 for line in narrow.splitlines())
    assert "(ranked by F1@0.5, 8 images)" in narrow  # every row on the same images: said once
    wide = printed(boards, WIDE_CONSOLE, wide=True)  # what `--wide` prints on, whatever the terminal
    assert "more column(s)" not in wide
    assert all(h in wide for h in ("AP@0.9", "DSB AP", "PQ@0.5", "SEG", "s/image", "train s", "8 images"))


def test_ties_are_broken_by_the_next_metric_and_marked(boards):
    board = boards[0]
    # the three cellpose rows tie at F1@0.5 = 1.000 (and AP@0.5, AP@0.75): AP@0.9 orders them
    assert [r["label"] for r in board.rows[:3]] == LABELS[:3]
    assert [r["ap@0.9"] for r in board.rows[:3]] == sorted((r["ap@0.9"] for r in board.rows[:3]), reverse=True)
    assert [r["tie"] for r in board.rows] == [True, True, True, False, False]
    (tie,) = board.ties
    assert (tie.first, tie.last, tie.value, tie.by) == (1, 3, 1.0, ("ap@0.9",))
    assert board.tie_notes() == ["= ranks 1-3 tie at F1@0.5 = 1.000; ordered by AP@0.9"]
    # a narrow table that leaves AP@0.9 out says so where it names it
    assert "ordered by AP@0.9 (not shown)" in " ".join(printed(boards, 80).split())
    text = printed(boards, 100)
    assert re.search(r"^\s*1=\s+cellpose cellprob_threshold=1\s", text, re.M)
    assert re.search(r"^\s*4\s+otsu-watershed\s", text, re.M)


def test_rank_by_any_metric_at_any_stored_threshold(default_like_results):
    frame = default_like_results[default_like_results["dataset"] == "nuclei-clean"]
    (board,) = build_leaderboards(frame, "f1@0.6", SUITE_THRESHOLDS)  # not a suite threshold, but stored
    assert board.rank_by.key == "f1@0.6" and board.columns()[2] == ("f1@0.6", "F1@0.6")
    values = [r["f1@0.6"] for r in board.rows]
    assert values == sorted(values, reverse=True)
    (by_ap,) = build_leaderboards(frame, "AP@0.85", SUITE_THRESHOLDS)
    assert [r["ap@0.85"] for r in by_ap.rows] == sorted((r["ap@0.85"] for r in by_ap.rows), reverse=True)
    (by_dsb,) = build_leaderboards(frame, "dsb", SUITE_THRESHOLDS)
    assert by_dsb.rows[0]["label"] == "cellpose cellprob_threshold=1"
    low, high = by_dsb.rows[0]["ci"]
    assert low <= by_dsb.rows[0]["dsb"] <= high
    with pytest.raises(ValueError, match=r"no scores at 0.61; stored thresholds: 0.5, 0.55, 0.6, .*, 0.95"):
        build_leaderboards(frame, "f1@0.61", SUITE_THRESHOLDS)
    with pytest.raises(ValueError, match="unknown metric 'f2'"):
        build_leaderboards(frame, "f2@0.5", SUITE_THRESHOLDS)


def test_one_name_for_ap_in_every_format(boards):
    assert parse_metric_key("accuracy@0.5").key == "ap@0.5"  # the results table's name is accepted
    header = to_csv(boards).splitlines()[0].split(",")
    assert "ap@0.5" in header and not any("accuracy" in h for h in header)
    payload = json.loads(to_json(boards))
    row = payload[0]["rows"][0]
    assert {"ap@0.5", "ap@0.75", "ap@0.9", "dsb", "ci_low", "ci_high"} <= set(row)
    assert not any("accuracy" in k for k in row)
    assert payload[0]["ties"] == [{"first": 1, "last": 3, "value": 1.0, "ordered_by": ["ap@0.9"]}]


def test_seconds_are_plain_numbers():
    from segbench.report.render import format_value

    assert [format_value("train_seconds", v) for v in (1042.4, 257.0, 61.54, 0.01784)] == ["1042", "257", "61.5", "0.0178"]
