"""What a run shows while it works (segbench.run.progress): plain lines when
the output is not a terminal, and time left only from what was measured."""

import subprocess
import sys
import textwrap

from rich.console import Console

from segbench.run.training import Training, TrainingProgress
from segbench.run.progress import RunProgress, bars

SCRIPT = """\
import sys
from segbench import testing
import segbench.plugins
from segbench.cli import main
real = segbench.plugins.load_registry
segbench.plugins.load_registry = lambda extra=(): real(extra=[*extra, (testing, "segbench-testing", "1.0")])
if __name__ == "__main__":
    sys.exit(main(["run", sys.argv[1], "--no-html", "--no-plots"]))
"""


def test_a_piped_run_writes_plain_progress_lines(tmp_path):
    """`segbench run ... > log 2>&1`: each training's start and end with its
    seconds, and the predictions' count as they finish."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(f"""\
        name: piped
        output: {tmp_path / 'out'}
        datasets:
          - name: blobs
            generator: procedural
            params: {{n_images: 5, shape: [48, 48], n_objects: 4}}
            split: {{train: 3, test: 2}}
        segmenters:
          - name: trainable-threshold
            train: {{}}
          - name: blob-threshold
        """))
    log = tmp_path / "log"
    with open(log, "w") as out:  # a file, as with > log 2>&1: not a terminal
        code = subprocess.run([sys.executable, "-c", SCRIPT, str(suite)], stdout=out, stderr=subprocess.STDOUT,
                              timeout=300).returncode
    lines = log.read_text().splitlines()
    assert code == 0, "\n".join(lines)
    assert "training trainable-threshold on blobs: started" in lines
    (finished,) = [line for line in lines if line.startswith("training trainable-threshold on blobs: finished in")]
    assert finished.endswith(" s")
    counts = [line.split(",")[0] for line in lines if line.startswith("predictions:")]
    assert counts == [f"predictions: {n}/4 done" for n in (1, 2, 3, 4)]
    assert all(len(line) <= 80 for line in counts + [finished])


def test_plain_lines_follow_a_training_every_tenth_of_its_epochs(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("segbench.run.progress.time.monotonic", lambda: clock[0])
    log = tmp_path / "log"
    with open(log, "w") as file:
        run = RunProgress(bars(Console(file=file, width=80)), n_trainings=1, n_predictions=2)
        run.training_started(job())
        for epoch in (1, 2, 3, 3, 5, 9, 10, 20):  # as polled: some epochs seen twice, some missed
            clock[0] = 5.0 * epoch
            run.training_report(job(), TrainingProgress(epoch, 20, 0.25))
        run.training_finished(job(), None, skipped=2)
    assert log.read_text().splitlines() == [
        "training net on blobs: started",
        *(f"training net on blobs: epoch {e}/20, loss 0.25, {5 * e} s" for e in (2, 5, 9, 10, 20)),
        "training net on blobs: failed after 100.0 s; 2 predictions skipped",
        "predictions: 2/2 done (2 failed), 100 s",
    ]


def job(label="net"):
    return Training("segmenter", "net", label, object, {}, {"epochs": 10}, "blobs", (), None, "", 0,
                    ("dist", "1"), "k", f"/work/{label}")


def shown(terminal=True):
    console = Console(file=open("/dev/null", "w"), force_terminal=terminal, width=120)
    progress = bars(console)
    return progress, console


def fields(progress, task):
    return next(t for t in progress.tasks if t.id == task).fields


def test_time_left_comes_from_measured_epochs(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("segbench.run.progress.time.monotonic", lambda: clock[0])
    progress, _ = shown()
    run = RunProgress(progress, n_trainings=2, n_predictions=4)
    first, second = job("a"), job("b")
    run.training_started(first)
    line = run.running[first.workdir].line
    run.training_report(first, None)
    assert fields(progress, line)["estimate"] is None  # no epoch measured yet: none shown
    clock[0] = 130.0
    run.training_report(first, TrainingProgress(3, 10, 0.5))  # 10 s an epoch
    assert fields(progress, line)["estimate"] == 70.0
    assert fields(progress, run.train_task)["estimate"] is None  # a training is still queued
    clock[0] = 140.0
    run.training_report(first, TrainingProgress(3, 10, 0.5))  # the same epoch, 10 s later
    assert fields(progress, line)["estimate"] == 60.0
    run.training_started(second)
    run.training_report(second, TrainingProgress(1, 10, None))  # 0 s for its first epoch
    assert fields(progress, run.train_task)["estimate"] == 60.0  # the longest of the running ones
    rendered = progress.columns[-1].render(next(t for t in progress.tasks if t.id == line))
    assert rendered.plain == "0:01:00"


def test_predictions_waiting_on_a_training_show_no_stale_estimate():
    progress, _ = shown()
    run = RunProgress(progress, n_trainings=1, n_predictions=3)
    run.prediction_started()
    run.waiting(ready=0)
    assert not fields(progress, run.predict_task)["waits"]  # one is running
    run.prediction_finished(ok=True)
    run.waiting(ready=0)
    predict = next(t for t in progress.tasks if t.id == run.predict_task)
    assert predict.fields["waits"] and progress.columns[-1].render(predict).plain == "after training"
    run.waiting(ready=2)  # the training ended: its predictions can start
    assert not predict.fields["waits"]
    assert progress.columns[-1].render(next(t for t in progress.tasks if t.id == run.train_task)).plain == ""
