"""The HTML report in a real browser: headless Chromium loads it, runs its
script, and the DOM has one leaderboard row per variant, every image decoded,
and sortable columns. Skipped when no Chromium is installed (Debian: apt-get
install chromium)."""

import re
import shutil
import subprocess

import pytest

from segbench.report.html import write_html_report

pytest.importorskip("matplotlib")

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium: apt-get install chromium to run this test")

#: run after the page has loaded: record what the test checks as attributes of <body>
CHECK = """<script>
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var decoded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var table = document.querySelector('table.leaderboard');
  var order = function () {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.dataset.variant; }).join('|');
  };
  var before = order();
  table.querySelectorAll('th')[1].click();  // segmenter: ascending by name
  var byName = order();
  table.querySelectorAll('th')[0].click();  // rank: ascending again
  document.body.dataset.images = images.length;
  document.body.dataset.decoded = decoded.length;
  document.body.dataset.rows = document.querySelectorAll('table.leaderboard tr.variant').length;
  document.body.dataset.before = before;
  document.body.dataset.byname = byName;
  document.body.dataset.after = order();
});
</script>"""


def chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--virtual-time-budget=10000", *args],
        capture_output=True, text=True, timeout=timeout,
    )


def test_chromium_renders_the_report(results_folder, tmp_path):
    folder = results_folder(predictions=True)
    report = write_html_report(folder)
    checked = tmp_path / "checked.html"
    checked.write_text(report.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    done = chromium("--dump-dom", checked.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", done.stdout).group(1)
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', body))
    assert int(attrs["rows"]) == 3
    assert int(attrs["images"]) >= 11  # 2 plots + 9 to 12 overlays
    assert attrs["decoded"] == attrs["images"]
    assert attrs["before"] == "perfect|otsu-watershed min_distance=4|damaged"
    assert attrs["byname"] == "damaged|otsu-watershed min_distance=4|perfect"
    assert attrs["after"] == attrs["before"]

    shot = tmp_path / "report.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1280,1600", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (1280, 1600)
