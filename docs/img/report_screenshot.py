"""Make docs/img/report.png: run docs/img/report_suite.yaml (or the suite given),
then screenshot its HTML report with headless Chromium.

    python docs/img/report_screenshot.py [SUITE] [--height PIXELS]

Needs Chromium (Debian: apt-get install chromium) and segbench with matplotlib.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default=str(HERE / "report_suite.yaml"))
    parser.add_argument("--output", default="results/report-screenshot", help="the suite's output folder")
    parser.add_argument("--height", type=int, default=2200, help="screenshot height in pixels")
    parser.add_argument("--out", default=str(HERE / "report.png"))
    args = parser.parse_args()
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if browser is None:
        sys.exit("no Chromium found: apt-get install chromium")
    report = Path(args.output).resolve() / "report.html"
    report.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "segbench", "run", args.suite, "--output", args.output])
    if not report.is_file():
        sys.exit(f"segbench run wrote no {report}")
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={Path(args.out).resolve()}", f"--window-size=1280,{args.height}",
         "--virtual-time-budget=10000", report.as_uri()],
        check=True, capture_output=True,
    )
    from PIL import Image  # matplotlib's dependency: a 256-colour palette halves the file

    Image.open(args.out).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"wrote {args.out} from {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
