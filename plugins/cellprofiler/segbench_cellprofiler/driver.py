"""The CellProfiler side of the plugin: a long-lived process that runs pipelines.

This file is executed by the Python of CellProfiler's own environment (numpy 1.26,
no segbench), as ``python driver.py``; it imports nothing from segbench. It reads
one JSON request per line on stdin and answers one JSON line on its original
stdout (CellProfiler's own prints go to stderr):

``{"op": "hello"}``
    -> ``{"ok": true, "version": "5.0.0.dev784"}``
``{"op": "load", "key": K, "pipeline": PATH, "objects": NAME|null, "overrides": [[MODULE_NUM|null, TEXT, VALUE], ...]}``
    Load the pipeline once, write the overrides into its modules (in order;
    ``MODULE_NUM`` null means "the IdentifyPrimaryObjects behind the returned
    objects"), validate it and keep it under ``K``.
    -> ``{"ok": true, "objects": NAME, "applied": {"IdentifyPrimaryObjects #5: Threshold correction factor": "1.2", ...}}``
``{"op": "run", "key": K, "image": TIFF_PATH, "out": NPY_PATH}``
    Run the loaded pipeline on one image file through its own input modules
    (Images, NamesAndTypes, ...) and write the returned objects' label image,
    exactly as CellProfiler segmented it, to ``NPY_PATH``.
    -> ``{"ok": true, "count": n}``

Before each module of a run it writes ``{"module": "IdentifyPrimaryObjects #5"}``,
so the caller can name the module a crash or a timeout happened in.
Failures answer ``{"ok": false, "error": ONE_LINE}``.

A pipeline is a file people hand each other, so it runs confined to the
working folder this process is started in (its current directory, a fresh
temporary folder): a pipeline whose folder settings point anywhere else, or
that runs a program (RunImageJMacro), is refused when it is loaded; and once
CellProfiler has started, an audit hook (:func:`confine`) refuses every file
write, removal or rename outside that folder, and every new process, whatever
module asks for it.
"""

from __future__ import annotations

import faulthandler
import hashlib
import json
import logging
import os
import sys
import traceback

PROTOCOL = None  # the original stdout, set in main()


def send(message: dict) -> None:
    PROTOCOL.write(json.dumps(message) + "\n")
    PROTOCOL.flush()


class PipelineError(Exception):
    """A one-line problem with a pipeline (what, where, what to change)."""


def module_label(module) -> str:
    return f"{module.module_name} #{module.module_num}"


# ---------------------------------------------------------------------------
# start-up


def start_cellprofiler(workdir: str) -> str:
    """Headless CellProfiler with only the imageio reader (no Java, no Bio-Formats
    download), default folders in ``workdir``. Returns CellProfiler's version."""
    import cellprofiler_core.preferences as prefs

    prefs.set_headless()
    prefs.set_awt_headless(True)
    prefs.set_default_output_directory(workdir)
    prefs.set_default_image_directory(workdir)
    from cellprofiler_core.reader import fill_readers, filter_active_readers

    fill_readers(check_config=False)
    filter_active_readers(["imageio_reader"])  # what `cellprofiler -e imageio_reader` does
    import cellprofiler_core

    return cellprofiler_core.__version__


# ---------------------------------------------------------------------------
# loading a pipeline and writing settings into it


def load_pipeline(path: str):
    """Load a .cppipe / .cpproj; PipelineError naming the first module that failed."""
    from cellprofiler_core.pipeline import LoadException, Pipeline

    pipeline = Pipeline()
    failures = []

    def listener(_pipeline, event):
        if isinstance(event, LoadException):
            failures.append(event)

    pipeline.add_listener(listener)
    try:
        pipeline.load(path)
    except Exception as exc:  # noqa: BLE001 - anything CellProfiler raises is a bad file
        raise PipelineError(f"CellProfiler could not read it ({type(exc).__name__}: {one_line(exc)})") from None
    finally:
        pipeline.remove_listener(listener)
    if failures:
        event = failures[0]
        name = event.module_name or "?"
        raise PipelineError(
            f"module {name!r} could not be loaded ({type(event.error).__name__}: {one_line(event.error)}); "
            "it may be a plugin module or from a newer CellProfiler: install it or remove the module"
        )
    if not pipeline.modules(False):
        raise PipelineError("it holds no modules; is it a CellProfiler pipeline (.cppipe) or project (.cpproj)?")
    return pipeline


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def returned_objects(pipeline, objects: str | None) -> str:
    """The objects whose label image is returned: ``objects`` if given, else the
    objects the pipeline converts to a label image (ConvertObjectsToImage)."""
    available = {}
    for module in pipeline.modules():
        for setting in module.visible_settings():
            if type(setting).__name__ == "LabelName" and setting.value not in (None, "", "None"):
                available.setdefault(setting.value, module_label(module))
    if objects is not None:
        if objects not in available:
            raise PipelineError(
                f"no enabled module makes objects {objects!r} (it makes: {', '.join(sorted(available)) or 'none'}); "
                "fix the `objects:` parameter"
            )
        return objects
    converted = [
        module.object_name.value for module in pipeline.modules() if module.module_name == "ConvertObjectsToImage"
    ]
    converted = list(dict.fromkeys(converted))
    if not converted:
        raise PipelineError(
            "it saves no label image (no enabled ConvertObjectsToImage module); add ConvertObjectsToImage "
            f"(color format uint16) of the objects to score, or name them with `objects:` (one of: {', '.join(sorted(available)) or 'none'})"
        )
    if len(converted) > 1:
        raise PipelineError(
            f"it converts several objects to label images ({', '.join(converted)}); choose one with `objects:`"
        )
    return converted[0]


def producer(pipeline, objects: str):
    """The module that names ``objects`` (its LabelName setting)."""
    for module in pipeline.modules():
        for setting in module.visible_settings():
            if type(setting).__name__ == "LabelName" and setting.value == objects:
                return module
    return None


def target_identify_module(pipeline, objects: str):
    """The IdentifyPrimaryObjects module that the common parameters go into."""
    made_by = producer(pipeline, objects)
    if made_by is not None and made_by.module_name == "IdentifyPrimaryObjects":
        return made_by
    candidates = [m for m in pipeline.modules() if m.module_name == "IdentifyPrimaryObjects"]
    if len(candidates) == 1:
        return candidates[0]
    raise PipelineError(
        f"the common parameters go into IdentifyPrimaryObjects, but objects {objects!r} are made by "
        f"{module_label(made_by) if made_by else 'no module'} and the pipeline has {len(candidates)} "
        "IdentifyPrimaryObjects modules; write the settings with `settings: {'IdentifyPrimaryObjects #N: ...': value}`"
    )


def find_setting(module, text: str):
    """The visible setting of ``module`` whose text is ``text``."""
    visible = [s for s in module.visible_settings() if s.text == text]
    if visible:
        return visible[0]
    if any(s.text == text for s in module.settings()):
        raise PipelineError(
            f"setting {text!r} of {module_label(module)} is hidden by the module's other settings "
            "(for example 'Use advanced settings?' or the threshold strategy); set those first, earlier in `settings:`"
        )
    texts = list(dict.fromkeys(s.text for s in module.visible_settings() if s.text))
    raise PipelineError(f"{module_label(module)} has no setting {text!r}; its settings are: {'; '.join(texts)}")


def value_text(value) -> str:
    """CellProfiler's text for a JSON value: booleans Yes/No, ranges 'low,high'."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ",".join(value_text(v) for v in value)
    return str(value)


def write_setting(pipeline, module, text: str, value) -> str:
    """Write ``value`` into the visible setting ``text``; returns CellProfiler's stored text."""
    setting = find_setting(module, text)
    if isinstance(value, list) and None in value:  # a range with one bound given keeps the other
        current = str(setting.value_text).split(",")
        value = [current[i] if v is None else v for i, v in enumerate(value)]
    new = value_text(value)
    choices = getattr(setting, "choices", None)
    if choices:
        names = [str(getattr(c, "value", c)) for c in choices]
        matches = [n for n in names if n.lower() == new.lower()]
        if not matches:
            raise PipelineError(f"{module_label(module)}: {text!r} cannot be {new!r}; choose one of: {', '.join(names)}")
        new = matches[0]
    setting.set_value_text(new)
    try:
        setting.test_valid(pipeline)
    except Exception as exc:  # noqa: BLE001 - ValidationError and the like
        raise PipelineError(f"{module_label(module)}: {text!r} = {new!r} is not valid ({one_line(exc)})") from None
    return str(setting.value_text)


def apply_overrides(pipeline, objects: str, overrides) -> dict:
    """Write ``[[module_num | None, text, value], ...]`` into the pipeline, in order."""
    applied = {}
    for module_num, text, value in overrides:
        if module_num is None:
            module = target_identify_module(pipeline, objects)
        else:  # check_names has made sure that it exists
            module = pipeline.modules(False)[module_num - 1]
        applied[f"{module_label(module)}: {text}"] = write_setting(pipeline, module, text, value)
    return applied


def check_names(pipeline, settings_keys) -> None:
    """Every ``'ModuleName #N'`` named in ``settings:`` must be that module."""
    modules = pipeline.modules(False)
    for name, number in settings_keys:
        actual = modules[number - 1].module_name if 1 <= number <= len(modules) else None
        if actual != name:
            where = f"module #{number} is {actual}" if actual else f"there is no module #{number}"
            listing = ", ".join(module_label(m) for m in modules)
            raise PipelineError(f"`settings:` names {name} #{number}, but {where}; its modules are: {listing}")


def validate(pipeline) -> None:
    from cellprofiler_core.setting import ValidationError

    for module in pipeline.modules():
        if module.module_name in ("Images", "Metadata", "NamesAndTypes", "Groups"):
            continue  # they are checked against the image file list, which comes with each image
        try:
            module.test_valid(pipeline)
        except ValidationError as exc:
            text = exc.get_setting().text if exc.get_setting() is not None else "?"
            raise PipelineError(f"{module_label(module)}: setting {text!r}: {one_line(exc)}") from None


# ---------------------------------------------------------------------------
# confinement: a pipeline writes only inside the working folder and runs no program

#: modules whose purpose is to run another program
PROGRAM_MODULES = ("RunImageJMacro",)
#: folder choices that lie inside the working folder (both default folders are it)
INSIDE_CHOICES = ("Default Output Folder", "Default Input Folder")
SUBFOLDER_CHOICES = ("Default Output Folder sub-folder", "Default Input Folder sub-folder")
#: audit events that start a program
PROGRAM_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn"}
)
#: audit events whose string arguments are paths that are changed
CHANGE_EVENTS = frozenset(
    {"os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.truncate", "os.chmod", "os.chown", "os.link",
     "os.symlink", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.copytree", "shutil.move",
     "shutil.copymode", "shutil.copystat", "sqlite3.connect"}
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def check_confined(pipeline) -> None:
    """Refuse, at load time, a pipeline that would write, read or run outside
    the working folder: a program module, a folder setting that is not one of
    the default folders (or a plain sub-folder of one), or a file-name setting
    of such a module that holds a path."""
    from cellprofiler_core.setting.text import Directory, Text

    for module in pipeline.modules():
        if module.module_name in PROGRAM_MODULES:
            raise PipelineError(f"{module_label(module)} runs another program, which segbench never does for a pipeline; remove the module")
        folders = [s for s in module.visible_settings() if isinstance(s, Directory)]
        for setting in folders:
            _check_folder(module, setting)
        for setting in module.visible_settings() if folders else ():
            value = str(setting.value)
            if type(setting) is Text and ("/" in value or "\\" in value or value.startswith("..")):
                raise PipelineError(
                    f"{module_label(module)}: {setting.text!r} = {value!r} holds a path; a pipeline run by segbench "
                    "writes only in its own working folder: give a plain file name"
                )


def _check_folder(module, setting) -> None:
    choice, custom = setting.dir_choice, setting.custom_path
    parts = custom.replace("\\", "/").split("/")
    plain = custom and not os.path.isabs(custom) and ".." not in parts and "\\g<" not in custom
    if choice in INSIDE_CHOICES or (choice in SUBFOLDER_CHOICES and plain):
        return
    where = f"{choice} {custom}".strip() if choice not in INSIDE_CHOICES else choice
    raise PipelineError(
        f"{module_label(module)}: {setting.text!r} is {where!r}; a pipeline run by segbench reads and writes only "
        "in its own working folder: choose Default Output Folder (or a plain sub-folder of it, no '..' or metadata)"
    )


def confine(root: str) -> None:
    """From now on, refuse (PermissionError) every file write, removal, rename
    or permission change outside ``root``, and every new process."""
    root = os.path.realpath(root)
    allowed = (root + os.sep, os.devnull)

    def inside(path) -> bool:
        if isinstance(path, int):  # a file descriptor already open
            return True
        full = os.path.realpath(os.fsdecode(path))
        return full == root or full.startswith(allowed)

    def hook(event: str, args: tuple) -> None:
        if event in PROGRAM_EVENTS:
            raise PermissionError(f"a pipeline run by segbench may not start a program ({event})")
        if event == "open":
            path, mode, flags = args
            writes = any(c in (mode or "") for c in "wax+") if mode else bool(flags & _WRITE_FLAGS)
            paths = [path] if writes else []
        elif event in CHANGE_EVENTS:
            paths = [a for a in args if isinstance(a, (str, bytes, os.PathLike))]
        else:
            return
        for path in paths:
            if path is not None and not inside(path):
                raise PermissionError(
                    f"a pipeline run by segbench writes only inside its working folder, not {os.fsdecode(path)}"
                )

    sys.addaudithook(hook)


# ---------------------------------------------------------------------------
# running one image


class Loaded:
    """One pipeline, loaded once, with the objects it returns."""

    def __init__(self, pipeline, objects: str):
        self.pipeline = pipeline
        self.objects = objects
        self.error = None
        pipeline.add_listener(self._on_event)
        real_run_module = pipeline.run_module

        def run_module(module, workspace):
            send({"module": module_label(module)})
            return real_run_module(module, workspace)

        pipeline.run_module = run_module  # run_image_set calls self.run_module

    def _on_event(self, _pipeline, event):
        name = type(event).__name__
        if name == "RunException":
            self.error = (event.module, event.error)
            event.cancel_run = True
        elif name == "PrepareRunError":
            self.error = (event.module, Exception(event.message))

    def run(self, image_path: str):
        """Label image (int32, as CellProfiler segmented it) of ``image_path``."""
        from cellprofiler_core.measurement import Measurements
        from cellprofiler_core.image import ImageSetList
        from cellprofiler_core.workspace import Workspace

        pipeline = self.pipeline
        self.error = None
        pipeline.clear_urls(add_undo=False)
        pipeline.add_pathnames_to_file_list([image_path], add_undo=False)
        measurements = Measurements()
        try:
            workspace = Workspace(pipeline, None, None, None, measurements, ImageSetList())
            if not pipeline.prepare_run(workspace) or self.error is not None:
                module, error = self.error or (None, Exception("prepare_run failed"))
                where = module_label(module) if module is not None else "the input modules"
                raise PipelineError(
                    f"{where} could not make an image set from {os.path.basename(image_path)} ({one_line(error)}); "
                    "if its rules select files by name, set `file_name:` to a name they accept"
                )
            image_numbers = list(measurements.get_image_numbers())
            if len(image_numbers) != 1:
                raise PipelineError(
                    f"the input modules made {len(image_numbers)} image sets from the file {os.path.basename(image_path)}; "
                    "the pipeline must take one grayscale image per image set (NamesAndTypes: assign all images one name); "
                    "if its rules select files by name, set `file_name:` to a name they accept"
                )
            keys, groupings = pipeline.get_groupings(workspace)
            pipeline.prepare_group(workspace, groupings[0][0], groupings[0][1])
            result = pipeline.run_image_set(measurements, image_numbers[0], no_interaction, no_display, no_cancel)
            if self.error is not None:
                module, error = self.error
                raise PipelineError(f"{module_label(module)} failed: {type(error).__name__}: {one_line(error)}")
            if result is None or self.objects not in result.object_set.object_names:
                raise PipelineError(f"the run made no objects {self.objects!r}; is the module that makes them disabled?")
            labels = result.object_set.get_objects(self.objects).segmented
            pipeline.post_group(workspace, groupings[0][0])
            return labels.astype("int32", copy=False)
        finally:
            pipeline.end_run()
            measurements.close()


def no_display(module, display_data, image_set_number) -> None:
    """Headless: module windows are not shown (as in `cellprofiler -c`)."""


def no_interaction(module, *args, **kwargs):
    raise PipelineError(f"{module_label(module)} asks for user interaction, which a headless run cannot give")


def no_cancel() -> bool:
    return False


def file_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def handle(request: dict, loaded: dict) -> dict:
    op = request.get("op")
    if op == "load":
        pipeline = load_pipeline(request["pipeline"])
        check_names(pipeline, request.get("check", []))
        objects = returned_objects(pipeline, request.get("objects"))
        applied = apply_overrides(pipeline, objects, request.get("overrides", []))
        validate(pipeline)
        check_confined(pipeline)
        loaded[request["key"]] = Loaded(pipeline, objects)
        return {"ok": True, "objects": objects, "applied": applied, "sha256": file_hash(request["pipeline"])}
    if op == "run":
        import numpy

        labels = loaded[request["key"]].run(request["image"])
        numpy.save(request["out"], labels)
        return {"ok": True, "count": int(labels.max()) if labels.size else 0}
    return {"ok": False, "error": f"unknown request {op!r}"}


def main() -> None:
    global PROTOCOL
    PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # CellProfiler prints to stdout; keep the protocol clean
    sys.stdout = sys.stderr
    faulthandler.enable()  # a crash in a C extension names itself on stderr
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    workdir = os.path.join(os.getcwd(), "output")  # the caller's temporary folder
    os.makedirs(workdir, exist_ok=True)
    try:
        version = start_cellprofiler(workdir)
    except Exception as exc:  # noqa: BLE001
        send({"ok": False, "error": f"CellProfiler did not start: {type(exc).__name__}: {one_line(exc)}"})
        return
    confine(os.getcwd())
    loaded: dict = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("op") == "hello":
            send({"ok": True, "version": version, "python": sys.version.split()[0]})
            continue
        try:
            reply = handle(request, loaded)
        except PipelineError as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            traceback.print_exc()
            reply = {"ok": False, "error": f"{type(exc).__name__}: {one_line(exc)}"}
        send(reply)


if __name__ == "__main__":
    main()
