"""The HTML report: self-contained, one table row per variant, decodable images,
overlays from saved predictions (or a note without them); overlay classification."""

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from segbench.cli import main
from segbench.report.html import choose_images, write_html_report
from segbench.report.overlays import classify, display_plane

pytest.importorskip("matplotlib")


class Collect(HTMLParser):
    """Leaderboard rows, images and notes of a report."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.external, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and attrs.get("class") == "variant":
            self.rows.append(attrs["data-variant"])
        if tag == "img":
            self.images.append(attrs)
        for key in ("src", "href"):
            if re.match(r"(https?:)?//", attrs.get(key) or ""):
                self.external.append(attrs[key])
        if tag in ("link", "script") and (attrs.get("src") or attrs.get("href")):
            self.external.append(attrs.get("src") or attrs.get("href"))

    def handle_data(self, data):
        self.text.append(data)


def parse(path) -> Collect:
    collect = Collect()
    collect.feed(path.read_text(encoding="utf-8"))
    collect.text = " ".join(" ".join(collect.text).split())
    return collect


def png_size(src: str) -> tuple[int, int]:
    data = base64.b64decode(src.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_report_with_saved_predictions(results_folder):
    folder = results_folder(predictions=True)
    path = write_html_report(folder, images=["img0001", "nope"])
    assert path == folder / "report.html"
    page = parse(path)
    assert page.external == []  # self-contained: no network at view time
    assert page.rows == ["perfect", "otsu-watershed min_distance=4", "damaged"]
    assert all(img["src"].startswith("data:image/png;base64,") for img in page.images)
    assert all(min(png_size(img["src"])) > 100 for img in page.images)
    overlays = [img for img in page.images if re.match(r"img\d{4} \(", img["alt"])]
    # best, median, worst per variant (3 distinct images of 4), plus img0001 where it was not picked
    for variant_images in (overlays[:4], overlays[4:8], overlays[8:]):
        assert {re.match(r"(img\d{4}) \((\w+)", i["alt"]).group(2) for i in variant_images} <= {
            "best", "median", "worst", "named"}
    assert any("img0001" in i["alt"] for i in overlays)
    assert 9 <= len(overlays) <= 12
    # damaged: 1 missed, 1 split in halves (one half matches), 2 merged (the larger matches), 1 extra
    damaged = page.text[page.text.index("damaged", page.text.index("Overlays")):]
    assert damaged.count("TP 6 FP 2 FN 2 splits 1 merges 1") == 4  # best, median, worst, img0001
    assert "not in nuclei: nope" in page.text
    assert "were not saved" not in page.text
    assert "Provenance" in page.text and "segbench-test" not in page.text
    assert "F1@0.5" in page.text and "95% CI" in page.text


def test_report_without_predictions_notes_it(results_folder):
    folder = results_folder(predictions=False)
    page = parse(write_html_report(folder, folder / "elsewhere" / "r.html"))
    assert "Predicted label images were not saved for this run" in page.text
    assert "Agreement" not in page.text  # no reference dataset
    assert len(page.rows) == 3
    overlays = [img for img in page.images if re.match(r"img\d{4} \(", img["alt"])]
    assert overlays and all(min(png_size(i["src"])) > 100 for i in overlays)


def test_report_command_writes_html(results_folder, capsys):
    folder = results_folder(predictions=True)
    code = main(["report", str(folder), "--html", str(folder / "x.html"), "--format", "csv", "--rank-by", "ap@0.75"])
    out, err = capsys.readouterr()
    assert code == 0 and f"HTML report: {folder / 'x.html'}" in err
    assert out.splitlines()[0].startswith("dataset,rank,variant,segmenter,ap@0.75,ci_low,ci_high,")
    assert "ranked by <b>AP@0.75</b>" in (folder / "x.html").read_text()


def test_classify_names_every_kind_of_error():
    gt = np.zeros((20, 40), int)
    gt[2:8, 2:12] = 1  # split into 3 predictions, none with IoU >= 0.5
    gt[2:8, 20:26] = 2  # merged with 3 into one prediction
    gt[10:16, 20:26] = 3
    gt[12:18, 2:8] = 4  # matched
    gt[12:18, 30:36] = 5  # missed
    pred = np.zeros_like(gt)
    pred[2:8, 2:5], pred[2:8, 5:8], pred[2:8, 8:12] = 1, 2, 6
    pred[2:16, 20:26] = 3
    pred[12:18, 2:8] = 4
    pred[0:2, 36:40] = 9  # false positive
    c = classify(gt, pred, 0.5)
    assert c.tp_pred.tolist() == [4] and c.tp_true.tolist() == [4]
    assert c.fp_pred.tolist() == [1, 2, 3, 6, 9]
    assert c.fn_true.tolist() == [1, 2, 3, 5]
    assert c.split_true.tolist() == [1] and c.merge_pred.tolist() == [3]


def test_display_plane_of_a_stack_is_its_fullest_slice():
    gt = np.zeros((3, 4, 4), int)
    gt[2, :2] = 1
    (plane,), z = display_plane(gt)
    assert z == 2 and plane.shape == (4, 4)


def test_gallery_picks_best_median_worst_then_named():
    values = pd.Series({"a": 0.5, "b": 0.9, "c": 0.7, "d": 0.1, "e": 0.7})
    picks = choose_images(values, named=["a", "zzz", "b"])
    assert [(p.image, p.why) for p in picks] == [("b", "best"), ("e", "median"), ("d", "worst"), ("a", "named")]


def test_agreement_with_a_reference_dataset_is_shown(results_folder):
    import json

    folder = results_folder(predictions=False)
    results = pd.read_parquet(folder / "results.parquet")
    real = results.assign(dataset="real")
    pd.concat([results, real]).to_parquet(folder / "results.parquet")
    suite = json.loads((folder / "suite.json").read_text())
    suite["datasets"].append({"name": "real", "folder": suite["datasets"][0]["folder"], "reference": True})
    (folder / "suite.json").write_text(json.dumps(suite))
    page = parse(write_html_report(folder))
    assert "Agreement with the reference data" in page.text
    # the same scores on both datasets: every decisive pair kept, none reversed or spurious, no
    # calibration error, the rankings agree perfectly
    assert re.search(
        r"nuclei 3 (\d)/\1 0 0 0/\d 0\.00 \[0\.00, 0\.00\] 1\.00 \[1\.00, 1\.00\] \S+ 1\.00 \[1\.00, 1\.00\] yes",
        page.text,
    )
    # and they fail alike: each kind of error the same share on both
    assert "How each dataset fails, against real (dataset / reference)" in page.text
    assert re.search(r"nuclei (\d+\.\d) / \1 (\d+\.\d) / \2 (\d+\.\d) / \3 (\d+\.\d) / \4", page.text)


def test_run_warnings_open_the_report_and_failures_close_it(results_folder):
    import json

    folder = results_folder(predictions=False)
    warning = "datasets.nuclei: unet found 0 of 412 objects <too few epochs?>; try train: {epochs: 12}"
    (folder / "run.json").write_text(json.dumps({
        "warnings": [warning], "failures": [{"where": "datasets.nuclei", "message": "boom"}, "not a dict"]}))
    text = write_html_report(folder).read_text()
    assert text.index("<section id='warnings'>") < text.index("<section id='ds-")
    assert "found 0 of 412 objects &lt;too few epochs?&gt;" in text
    assert "<li>datasets.nuclei: boom</li>" in text
    (folder / "run.json").write_text("[1, 2]")  # not a JSON object: no warnings, no provenance run, no crash
    assert "id='warnings'" not in write_html_report(folder).read_text()


def test_ground_truth_contour_has_a_dark_halo_on_bright_nuclei():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from segbench.report.overlays import COLOURS, overlay_figure

    image = np.full((40, 40), 200.0)
    image[0] = 0.0  # the 1-99.8% stretch maps the rest to white: a bright nucleus on a bright field
    gt = np.zeros((40, 40), int)
    gt[10:30, 10:30] = 1
    fig, counts = overlay_figure(image, gt, gt.copy())
    rgb = fig.axes[0].images[0].get_array()
    plt.close(fig)
    assert counts.startswith("TP 1  FP 0  FN 0")
    assert np.allclose(rgb[20, 9], 0.3)  # just outside the object: 70% dark halo over white
    assert np.allclose(rgb[5, 5], 1.0) and np.allclose(rgb[20, 20], 1.0)  # elsewhere untouched
    assert COLOURS["halo"] == (0.0, 0.0, 0.0)


def test_describe_gets_a_readable_block_of_its_own(results_folder):
    folder = results_folder(predictions=False)
    results = pd.read_parquet(folder / "results.parquet")
    results["describe"] = '{"weights": "abc123", "version": "1.2"}'
    results.to_parquet(folder / "results.parquet")
    text = write_html_report(folder).read_text()
    assert "<pre class='describe'>{\n  &quot;version&quot;: &quot;1.2&quot;,\n  &quot;weights&quot;" in text
    header = re.search(r"<table class='provenance'><thead><tr>(.*?)</tr>", text).group(1)
    assert "describe" not in header and "params" in header


def test_an_unchanged_report_and_plots_are_not_rendered_again(results_folder):
    pytest.importorskip("matplotlib")
    from segbench.leaderboard import build_leaderboards
    from segbench.report.plots import plot_threshold_curves

    folder = results_folder(predictions=False)
    report = write_html_report(folder)
    report.write_text(report.read_text() + "<!-- kept -->")  # marks this very file
    assert write_html_report(folder).read_text().endswith("<!-- kept -->")  # same inputs: left as it is
    write_html_report(folder, images=["img0"])  # another option: rendered again
    assert not report.read_text().endswith("<!-- kept -->")

    results = pd.read_parquet(folder / "results.parquet")
    boards = build_leaderboards(results, "f1@0.5", (0.5, 0.75))
    (png,) = plot_threshold_curves(results, boards, folder / "plots")
    png.write_bytes(png.read_bytes() + b"kept")
    assert plot_threshold_curves(results, boards, folder / "plots") == [png] and png.read_bytes().endswith(b"kept")
    results.loc[0, "tp"] += 1  # another result: drawn again
    plot_threshold_curves(results, boards, folder / "plots")
    assert not png.read_bytes().endswith(b"kept")
    results.to_parquet(folder / "results.parquet")
    report.write_text(report.read_text() + "<!-- kept -->")
    assert not write_html_report(folder).read_text().endswith("<!-- kept -->")


def test_a_rerun_that_only_changes_timings_keeps_the_report(results_folder):
    import json

    folder = results_folder(predictions=False)
    (folder / "run.json").write_text(json.dumps({"seconds": 12.5, "warnings": []}))
    report = write_html_report(folder)
    report.write_text(report.read_text() + "<!-- kept -->")
    (folder / "run.json").write_text(json.dumps({"seconds": 0.4, "warnings": []}))  # a warm rerun
    assert write_html_report(folder).read_text().endswith("<!-- kept -->")
    (folder / "run.json").write_text(json.dumps({"seconds": 0.4, "warnings": ["datasets.d: new"]}))
    assert "datasets.d: new" in write_html_report(folder).read_text()
