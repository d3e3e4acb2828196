"""``segbench generate``: write a dataset folder of images with exact ground truth.

Works with every registered generator (the built-in ``procedural`` one and any
plugin's): ``--param KEY=VALUE`` values are read as YAML and passed to the
generator's constructor, ``--n`` images are generated with ``--seed`` and
written with :func:`segbench.io.write_dataset`, so ``segbench evaluate`` and
suites read the folder back. ``dataset.json`` records the generator, its
distribution and version, every parameter (defaults included), the seed and
the segbench version. With ``--fit DIR`` the generator is first fitted to the
labelled images of ``DIR`` (:func:`fit_generator`, the suites' training
entry); ``dataset.json`` then also
holds what the fit recorded, and ``--print-params`` prints the fitted
parameters instead of generating.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from .. import __version__
from ..errors import SegbenchError, did_you_mean, printable

DESCRIPTION = """\
Generate N images with exact label masks and write them as a dataset folder
(images/NAME.tif + masks/NAME.tif + dataset.json) that `segbench evaluate`
and suites read. GENERATOR is any registered generator (`segbench list`
shows them); --list-params prints its parameters, their defaults and units.
The same GENERATOR, parameters and --seed give bit-identical images."""

EPILOG = """\
--param values are read as YAML: 0.3, [128, 128], clustered, true, "a b".

examples:
  segbench generate procedural --list-params
  segbench generate procedural --n 20 --out data/nuclei
  segbench generate procedural --n 50 --out data/crowded --seed 1 \\
      --param n_objects=[60,80] touching_fraction=0.5 illumination_falloff=0.5
  segbench generate procedural --n 8 --out data/stacks --param shape=[32,128,128]
  segbench generate gan --n 100 --out data/gan --param weights=models/gan

fitting to a lab's images (--fit DIR: a dataset folder with masks):
  segbench generate procedural --fit data/my-lab --print-params
  segbench generate procedural --fit data/my-lab --n 100 --out data/my-lab-like
  segbench generate procedural --fit data/my-lab --n 100 --out data/crowded \
      --param touching_fraction=0.5     # given parameters win over fitted ones
"""

_PARAM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``segbench generate``."""
    parser = subparsers.add_parser(
        "generate",
        help="generate images with exact ground truth into a dataset folder",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "generator", metavar="GENERATOR", help="a registered generator, e.g. procedural"
    )
    parser.add_argument(
        "--n", type=_count, default=20, metavar="N", help="number of images (default: 20)"
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="dataset folder to write (created if missing)"
    )
    parser.add_argument(
        "--seed", type=_count, default=0, metavar="SEED", help="non-negative random seed (default: 0)"
    )
    parser.add_argument(
        "--param",
        dest="params",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="a generator parameter (repeatable; see --list-params)",
    )
    parser.add_argument(
        "--list-params",
        action="store_true",
        help="print the generator's parameters with their defaults and descriptions, then exit",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the dataset already in --out"
    )
    parser.add_argument(
        "--fit",
        type=Path,
        metavar="DIR",
        help="first fit the generator to the annotated images of this dataset folder "
        "(generators with a fit method, e.g. procedural)",
    )
    parser.add_argument(
        "--print-params",
        action="store_true",
        help="with --fit: print the fitted parameters (a suite's params: block), then exit",
    )
    parser.set_defaults(func=run)
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Handle ``segbench generate``; returns the exit code."""
    from ..plugins import PluginError, load_registry

    try:
        info = load_registry().get("generator", args.generator)
    except PluginError as err:
        return _fail(str(err))
    if args.list_params:
        print(describe_params(info.cls, info.name))
        return 0
    if args.print_params and args.fit is None:
        return _fail("--print-params needs --fit DIR (the parameters it prints are fitted)")
    if args.out is None and not args.print_params:
        return _fail("--out DIR is required (or use --list-params)")
    try:
        params = parse_params(args.params, info.cls, info.name)
        generator = info.cls(**params)
    except (SegbenchError, ValueError, TypeError) as err:
        return _fail(f"generator {info.name!r}: {err}")
    fitted = None
    if args.fit is not None:
        try:
            generator, fitted = fit_generator(info, params, args.fit, args.seed)
        except SegbenchError as err:
            return _fail(str(err), code=1)
        if args.print_params:
            if not callable(getattr(generator, "params", None)):
                return _fail(f"generator {info.name!r} does not report its fitted parameters "
                             f"(no params method); the fit left: {', '.join(fitted['files']) or 'nothing'}")
            print(f"# {info.name} fitted on {printable(args.fit)}: constructor parameters (a suite's params:),")
            print(f"# rounded to {SHOWN_DIGITS} significant digits (dataset.json of --out keeps them exact)")
            print(yaml.safe_dump(rounded(generator.params()), sort_keys=False, default_flow_style=None).rstrip())
            return 0
    if args.out.exists() and not args.out.is_dir():
        return _fail(f"{args.out} is a file; --out must be a folder")
    if _non_empty(args.out) and not args.overwrite:
        return _fail(f"{args.out} is not empty; choose another --out or pass --overwrite")

    from ..io import write_dataset

    written = 0

    def counted(stream: Iterable) -> Iterator:
        nonlocal written
        for sample in stream:
            yield sample
            written += 1

    try:
        samples = iter(generator.generate(args.n, args.seed))
        first = next(samples, None)  # its spacing goes into dataset.json
        meta = {
            "generator": info.name,
            "distribution": info.distribution,
            "generator_version": info.version,
            "params": generator.params() if fitted and callable(getattr(generator, "params", None))
            else _with_defaults(info.cls, params),
            **({"fit": fitted} if fitted else {}),
            "seed": args.seed,
            "segbench_version": __version__,
            "spacing": None if first is None else first.spacing,
        }
        everything = itertools.chain([] if first is None else [first], samples)
        stream = counted(_progress(everything, args.n, info.name))
        write_dataset(args.out, stream, meta, overwrite=args.overwrite)
    except (SegbenchError, FileExistsError, ValueError) as err:
        return _fail(str(err), code=1)
    print(f"wrote {written} images from {info.name} (seed {args.seed}) to {args.out}")
    return 0


def fit_generator(info, params: dict[str, Any], folder: Path, seed: int) -> tuple[Any, dict[str, Any]]:
    """Fit the generator ``info`` (a registry entry) with constructor ``params``
    to the labelled images of ``folder``, through the suites' own training
    entry (:func:`segbench.run.training.train`: same key, checks and record),
    in a temporary workdir; progress on stderr.

    Returns the fitted generator and what the fit recorded: ``{"from":
    folder, "files": {name: JSON content}}`` for the JSON files it left.

    Raises
    ------
    SegbenchError
        The generator cannot be fitted, the folder is not a labelled dataset,
        or the fit fails.
    """
    import tempfile

    from ..run.data import read_train_folder
    from ..run.training import TRAIN_RECORD, plan_training, train

    if not callable(getattr(info.cls, "fit", None)):
        raise SegbenchError(f"generator {info.name!r} cannot be fitted (it has no fit method)")
    dataset = read_train_folder(folder)
    what = f"fitting {info.name} on {len(dataset.train)} images of {printable(folder)}"
    with tempfile.TemporaryDirectory(prefix="segbench-fit-") as output:
        training = plan_training("generator", info, info.name, params, {}, dataset, output, seed, f"--fit {folder}")
        with _fit_progress(what) as progress:
            try:
                generator, _ = train(training, progress)
            except ValueError as err:
                raise SegbenchError(f"generator {info.name!r}: fitting on {folder} failed: {err}") from None
        files = {p.name: json.loads(p.read_text(encoding="utf-8"))
                 for p in sorted(Path(training.workdir).glob("*.json")) if p.name != TRAIN_RECORD}
    return generator, {"from": str(folder), "files": files}


def parse_params(items: Iterable[str], cls: type, name: str) -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict, values read with ``yaml.safe_load``.

    Raises
    ------
    ValueError
        An item is not ``KEY=VALUE``, a value is not valid YAML, a key is
        repeated, is ``n_images`` (that is ``--n``), or is not a constructor
        parameter of ``cls`` (unless it takes ``**kwargs``).

    Examples
    --------
    >>> from segbench.builtin.procedural import Procedural
    >>> parse_params(["shape=[128, 128]", "placement=clustered"], Procedural, "procedural")
    {'shape': [128, 128], 'placement': 'clustered'}
    """
    known = cls.constructor_params()
    params: dict[str, Any] = {}
    for item in items:
        match = _PARAM.match(item)
        if not match:
            raise ValueError(f"--param {item!r} is not KEY=VALUE (e.g. touching_fraction=0.3)")
        key, text = match.groups()
        if key == "n_images":
            raise ValueError("give the number of images with --n, not --param n_images")
        renamed = getattr(cls, "renamed_params", {})
        if key in renamed:
            raise ValueError(f"parameter {key!r} was renamed to {renamed[key]}; write {renamed[key]}={text}")
        if known is not None and key not in known:
            raise ValueError(
                f"unknown parameter {key!r}{did_you_mean(key, known)}; see `segbench generate {name} --list-params`"
            )
        if key in params:
            raise ValueError(f"parameter {key!r} is given twice")
        try:
            params[key] = yaml.safe_load(text)
        except yaml.YAMLError as err:
            problem = str(err).splitlines()[0]
            raise ValueError(
                f"--param {key}: value {text!r} is not valid YAML ({problem})"
            ) from None
    return params


def describe_params(cls: type, name: str) -> str:
    """The constructor parameters of ``cls``, each with its default and the
    description from the class's numpydoc ``Parameters`` section."""
    docs = parameter_docs(cls)
    lines = [f"{name}: {_first_line(cls)}", "", "parameters (set with --param NAME=VALUE):"]
    signature = inspect.signature(cls.__init__)
    for param in list(signature.parameters.values())[1:]:
        if param.kind is param.VAR_KEYWORD:
            lines.append(f"  **{param.name}: any other keyword is passed on to the generator")
            continue
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            continue
        kind, text = docs.get(param.name, ("", ""))
        default = "required" if param.default is param.empty else _show(param.default)
        lines.append(f"  {param.name} = {default}" + (f"    ({kind})" if kind else ""))
        lines.extend(f"      {line}" for line in _wrap(text.replace("``", "")))
    return "\n".join(lines)


def parameter_docs(cls: type) -> dict[str, tuple[str, str]]:
    """``name -> (type, description)`` from the numpydoc ``Parameters`` section
    of ``cls``'s docstring (or its ``__init__``'s); the type without its
    ``, default ...`` part."""
    for source in (cls, cls.__init__):
        lines = (inspect.getdoc(source) or "").splitlines()
        start = _section_start(lines, "Parameters")
        if start is not None:
            return _parse_entries(lines[start:])
    return {}


def _section_start(lines: list[str], title: str) -> int | None:
    for i in range(len(lines) - 1):
        if lines[i].strip() == title and set(lines[i + 1].strip()) == {"-"}:
            return i + 2
    return None


def _parse_entries(lines: list[str]) -> dict[str, tuple[str, str]]:
    entries: dict[str, tuple[str, str]] = {}
    names: list[str] = []
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and line.strip() and set(lines[i + 1].strip()) == {"-"}:
            break  # the next section
        if line and not line[0].isspace():
            head, _, kind = line.partition(":")
            kind = re.sub(r",?\s*default[:=]?\s.*$", "", kind.strip())
            names = [n.strip() for n in head.split(",")]
            for n in names:
                entries[n] = (kind, "")
        elif line.strip() and names:
            for n in names:
                kind, text = entries[n]
                entries[n] = (kind, f"{text} {line.strip()}".strip())
    return entries


def _with_defaults(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """Every constructor parameter's value: the given ones over the defaults."""
    signature = inspect.signature(cls.__init__)
    defaults = {
        p.name: p.default
        for p in list(signature.parameters.values())[1:]
        if p.default is not p.empty
    }
    return {k: _jsonable(v) for k, v in {**defaults, **params}.items()}


def _jsonable(value: Any) -> Any:
    """``value`` as JSON would hold it (tuples as lists); its repr when JSON cannot."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _show(value: Any) -> str:
    return json.dumps(_jsonable(value))


def _first_line(cls: type) -> str:
    text = getattr(cls, "description", "") or inspect.getdoc(cls) or ""
    return text.strip().splitlines()[0] if text.strip() else ""


def _wrap(text: str, width: int = 72) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) if text else []


def _non_empty(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _progress(samples: Iterator, total: int, name: str) -> Iterator:
    """``samples`` with a rich progress bar on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        yield from samples
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"generating with {name}", total=total)
        for sample in samples:
            yield sample
            progress.advance(task)


@contextmanager
def _fit_progress(what: str) -> Iterator:
    """A ``progress(step, total, mismatch)`` callable for a generator's fit,
    on stderr: a bar with the time elapsed on a terminal, else one plain line
    when the fit starts, after each step and when it ends (logs show life)."""
    start = time.perf_counter()

    def line(step: int, total: int, loss: float | None) -> None:
        tail = "" if loss is None else f" (mismatch {loss:.3g})"
        print(f"{what}: {step}/{total}{tail}, {time.perf_counter() - start:.0f} s", file=sys.stderr)

    if not sys.stderr.isatty():
        print(f"{what} (a line after each step)", file=sys.stderr)
        yield line
        print(f"{what}: done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(escape(what), total=None)

        def update(step: int, total: int, loss: float | None) -> None:
            tail = "" if loss is None else f" (mismatch {loss:.3g})"
            bar.update(task, completed=step, total=total, description=escape(what + tail))

        yield update


#: significant digits of the floats --print-params shows
SHOWN_DIGITS = 4


def rounded(value: Any, digits: int = SHOWN_DIGITS) -> Any:
    """``value`` with every float (in lists and dicts too) rounded to
    ``digits`` significant digits, for people to read.

    Examples
    --------
    >>> rounded({"radius": 10.173522503736745, "aspect_ratio": [1.0, 1.5717615123874342], "n": 3})
    {'radius': 10.17, 'aspect_ratio': [1.0, 1.572], 'n': 3}
    """
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    return value


def _fail(message: str, code: int = 2) -> int:
    print(f"segbench generate: {printable(message)}", file=sys.stderr)
    return code
