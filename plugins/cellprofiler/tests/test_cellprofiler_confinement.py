"""A pipeline someone handed over writes only inside its own working folder and runs no program."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from segbench.errors import SegbenchError
from segbench_cellprofiler.process import DRIVER_SCRIPT

SAVE_TO_DEFAULT = "Output file location:Default Output Folder|"
SUFFIX = "Text to append to the image name:_labels"


@pytest.fixture
def victim(tmp_path):
    """A folder of the user's, outside any working folder, with a file in it."""
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    return folder


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (SAVE_TO_DEFAULT, "Output file location:Elsewhere...|{victim}", "'Output file location' is 'Elsewhere... {victim}'"),
        (SAVE_TO_DEFAULT, "Output file location:Default Output Folder sub-folder|../../..{victim}",
         "'Output file location' is 'Default Output Folder sub-folder ../../..{victim}'"),
        (SUFFIX, "Text to append to the image name:/../../../..{victim}/keep", "holds a path"),
    ],
)
def test_output_outside_the_working_folder_is_refused_in_one_line(
    cellprofiler_python, pipeline_text, write_pipeline, image, victim, old, new, expected
):
    from segbench_cellprofiler import CellProfilerSegmenter

    assert old in pipeline_text
    path = write_pipeline(pipeline_text.replace(old, new.format(victim=victim)), "elsewhere.cppipe")
    with pytest.raises(SegbenchError) as info:
        CellProfilerSegmenter(pipeline=path).predict(image)
    message = str(info.value)
    assert "\n" not in message and message.startswith("cellprofiler: pipeline elsewhere.cppipe: SaveImages #7")
    assert expected.format(victim=victim) in message
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"] and (victim / "keep.txt").read_text() == "mine"


def test_the_driver_refuses_writes_outside_and_programs_once_confined(tmp_path, victim):
    """Whatever module asks: writes, removals and renames outside the working folder, and new processes, fail."""
    work = tmp_path / "work"
    work.mkdir()
    script = textwrap.dedent(f"""
        import os, shutil, subprocess, sys
        sys.path.insert(0, {str(DRIVER_SCRIPT.parent)!r})
        import driver
        driver.confine({str(work)!r})
        open({str(work / "inside.txt")!r}, "w").write("ok")
        open({str(victim / "keep.txt")!r}).read()  # reading is not writing
        attempts = {{
            "write": lambda: open({str(victim / "keep.txt")!r}, "w"),
            "os.open": lambda: os.open({str(victim / "new")!r}, os.O_CREAT | os.O_WRONLY),
            "remove": lambda: os.remove({str(victim / "keep.txt")!r}),
            "rename": lambda: os.rename({str(work / "inside.txt")!r}, {str(victim / "moved")!r}),
            "rmtree": lambda: shutil.rmtree({str(victim)!r}),
            "parent": lambda: open({str(work / ".." / "victim" / "x")!r}, "w"),
            "program": lambda: subprocess.run(["true"]),
            "system": lambda: os.system("true"),
        }}
        for name, attempt in attempts.items():
            try:
                attempt()
            except PermissionError as exc:
                print(name, "refused:", exc)
            else:
                print(name, "ALLOWED")
        """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 8 and all(" refused: a pipeline run by segbench " in line for line in lines), lines
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"] and (victim / "keep.txt").read_text() == "mine"
    assert (work / "inside.txt").read_text() == "ok"


def test_a_pipeline_that_runs_a_program_is_refused(cellprofiler_python, pipeline_text, write_pipeline, image):
    from segbench_cellprofiler import CellProfilerSegmenter

    macro = (
        "RunImageJMacro:[module_num:8|svn_version:'Unknown'|variable_revision_number:1|show_window:False|notes:[]|"
        "batch_state:array([], dtype=uint8)|enabled:True|wants_pause:False]\n"
        "    Hidden:1\n    Hidden:1\n    Hidden:0\n    Executable directory:Default Output Folder|\n"
        "    Executable:ImageJ.exe\n    Macro directory:Default Output Folder|\n    Macro:macro.py\n"
        "    What variable in your macro defines the folder ImageJ should use?:Directory\n"
        "    Select an image to send to your macro:DNA\n    What should this image temporarily saved as?:DNA.tiff\n"
        "    What is the image filename CellProfiler should load?:DNA.tiff\n"
        "    What should CellProfiler call the loaded image?:FromImageJ\n"
    )
    text = pipeline_text.replace("ModuleCount:7", "ModuleCount:8").rstrip("\n") + "\n\n" + macro
    path = write_pipeline(text, "macro.cppipe")
    with pytest.raises(SegbenchError, match="RunImageJMacro #8 runs another program, which segbench never does"):
        CellProfilerSegmenter(pipeline=path).predict(image)
