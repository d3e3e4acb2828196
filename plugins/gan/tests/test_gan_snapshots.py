"""Training bookkeeping: the stats log is cut back atomically when a training resumes."""

from segbench_gan.snapshots import StatsLog


def test_truncate_after_keeps_the_steps_up_to_the_snapshot_and_no_temporary_file(tmp_path):
    log = StatsLog(tmp_path / "stats.jsonl")
    for step in (10, 20, 30):
        log.write(step=step, loss=1.0 / step)
    log.truncate_after(20)
    assert [r["step"] for r in log.read()] == [10, 20]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.jsonl"]
    log.write(step=30, loss=0.5)  # the resumed training appends from there
    assert [r["step"] for r in log.read()] == [10, 20, 30]
