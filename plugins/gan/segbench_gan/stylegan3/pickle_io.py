"""Reading official StyleGAN3 ``network-snapshot-*.pkl`` files without the official
code and without running anything stored in them.

Unpickling may call any global a pickle names, so :class:`RestrictedUnpickler` looks
every global up in an allow-list and refuses the rest (:class:`SegbenchError` naming
the file and the global). The allow-list holds what such files need and nothing that
runs code:

- tensor rebuilding: ``torch._utils._rebuild_tensor_v2``/``_v3``,
  ``_rebuild_parameter``, ``_rebuild_parameter_with_state``, ``torch.Size``,
  ``torch.device``, torch dtypes, and ``torch.storage._load_from_bytes``, which is
  replaced by a version that reads the storage bytes with
  ``torch.load(weights_only=True)``;
- numpy arrays, scalars and dtypes (``_reconstruct``, ``scalar``, ``ndarray``,
  ``dtype``) and ``_codecs.encode`` limited to latin-1 (bytes in protocol-2 pickles);
- ``collections.OrderedDict`` and the builtin containers;
- two stand-ins for the official helper code: ``dnnlib.util.EasyDict`` becomes a plain
  dict, and ``torch_utils.persistence._reconstruct_persistent_obj`` becomes
  :func:`_record_persistent_object`, which keeps the object's class name and state
  (its ``__dict__``: parameters, buffers, submodules, constructor arguments) in a
  :class:`PersistentObject` and ignores the Python source code the official function
  would ``exec``.

Two layouts are understood (:func:`load_official_pickle`):

1. official: a dict whose ``"G_ema"`` is a persistent ``Generator`` object of the
   official ``training/networks_stylegan3.py``; its parameters and buffers are
   collected under their official names, and its constructor arguments
   (``_init_kwargs``) give the architecture;
2. state dict: a dict with ``"G_ema"`` a state dict (official key names, tensors) and
   ``"G_ema_kwargs"`` the official ``Generator`` constructor arguments, e.g. written by
   ``pickle.dump({"G_ema": G.state_dict(), "G_ema_kwargs": dict(G.init_kwargs)}, f)``
   where the official code is installed.

Refused: conditional generators (``c_dim > 0``), StyleGAN2 generators, and anything
whose submodules are not persistent objects (e.g. ``torch.nn.ModuleList``, whose
class is not on the allow-list). Half-precision settings (``num_fp16_res``) are
ignored: the networks here run in float32.
"""

from __future__ import annotations

import builtins
import importlib
import io
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from segbench.errors import InputError, SegbenchError

from .config import StyleGAN3Config
from .generator import Generator

__all__ = ["RestrictedUnpickler", "PersistentObject", "restricted_load", "load_official_pickle"]


class PersistentObject:
    """What an official persistent object becomes: its class name and its state.

    Attributes
    ----------
    class_name : str
        Class name in the official source (``"Generator"``, ``"SynthesisLayer"``, ...).
    state : dict
        The object's ``__dict__`` as pickled.
    """

    __slots__ = ("class_name", "state")

    def __init__(self, class_name: str, state: dict):
        self.class_name = class_name
        self.state = state

    def __repr__(self) -> str:
        return f"PersistentObject({self.class_name!r})"


def _record_persistent_object(meta: Any) -> PersistentObject:
    """Stand-in for ``torch_utils.persistence._reconstruct_persistent_obj``: keep the
    class name and state; never import or execute ``meta["module_src"]``."""
    if not (isinstance(meta, dict) and meta.get("type") == "class" and isinstance(meta.get("state"), dict)):
        raise pickle.UnpicklingError("malformed persistent object record")
    return PersistentObject(str(meta.get("class_name")), meta["state"])


class _PlainDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a dict, nothing more."""


def _storage_from_bytes(data: bytes) -> Any:
    """Safe stand-in for ``torch.storage._load_from_bytes``."""
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("storage payload is not bytes")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _latin1_encode(text: Any, encoding: str = "latin1") -> bytes:
    """Stand-in for ``_codecs.encode`` (how protocol-2 pickles store bytes), limited to
    the latin-1 codec those pickles use."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """numpy's array/scalar rebuild functions under both module names numpy has used
    (``numpy.core`` before 2.0, ``numpy._core`` since)."""
    found: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module_name in ("numpy.core.multiarray", "numpy._core.multiarray"):
        try:
            multiarray = importlib.import_module(module_name)
        except ImportError:
            continue
        found[(module_name, "_reconstruct")] = multiarray._reconstruct
        found[(module_name, "scalar")] = multiarray.scalar
    return found


_BUILTINS = {name: getattr(builtins, name)
             for name in ("dict", "list", "tuple", "set", "frozenset", "bytearray", "complex", "slice")}


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
        ("collections", "OrderedDict"): OrderedDict,
        ("_codecs", "encode"): _latin1_encode,
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _record_persistent_object,
        ("dnnlib.util", "EasyDict"): _PlainDict,
    }
    for name in ("_rebuild_tensor_v3", "_rebuild_parameter_with_state"):
        if hasattr(torch._utils, name):
            allowed[("torch._utils", name)] = getattr(torch._utils, name)
    allowed.update(_numpy_globals())
    allowed.update({("builtins", k): v for k, v in _BUILTINS.items()})
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only allow-listed globals.

    Parameters
    ----------
    file : binary file
        The pickle stream.
    source : str
        File name used in error messages.
    """

    def __init__(self, file, source: str = "<pickle>"):
        super().__init__(file)
        self.source = source
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is None and module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            found = getattr(torch, name)
        if found is None:
            raise SegbenchError(
                f"{self.source}: refused to unpickle the global '{module}.{name}': only tensors, arrays, "
                "plain containers and StyleGAN3 network state are allowed, because any other global "
                "could execute code while loading"
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not supported (is this a torch.save file?)")


def restricted_load(path: str | Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`.

    Raises
    ------
    segbench.errors.SegbenchError
        A global outside the allow-list (nothing of the file is executed).
    segbench.errors.InputError
        The file is missing or not a readable pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file", "check the path")
    with path.open("rb") as f:
        try:
            return RestrictedUnpickler(f, str(path)).load()
        except SegbenchError:
            raise
        except Exception as err:  # noqa: BLE001 - corrupt pickles raise many types
            raise InputError(path, f"is not a readable pickle ({type(err).__name__}: {err})",
                             "give an official network-snapshot-*.pkl") from None


def _collect_state(obj: PersistentObject, prefix: str, out: dict[str, torch.Tensor], path: Path) -> None:
    """Parameters and persistent buffers of ``obj`` and its submodules, by dotted name."""
    state = obj.state
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for kind in ("_parameters", "_buffers"):
        for name, value in (state.get(kind) or {}).items():
            if value is None or name in skip:
                continue
            if not isinstance(value, torch.Tensor):
                raise InputError(path, f"'{prefix}{name}' is a {type(value).__name__}, not a tensor",
                                 "give an official StyleGAN3 snapshot")
            out[prefix + name] = value.detach()
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise InputError(path, f"submodule '{prefix}{name}' is a {type(child).__name__}, not a persistent "
                             "StyleGAN3 module", "give an official StyleGAN3 snapshot")
        _collect_state(child, f"{prefix}{name}.", out, path)


_IGNORED_KWARGS = {"num_fp16_res"}
_SYNTHESIS_KWARGS = {
    "channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
    "last_stopband_rel", "margin_size", "output_scale", "filter_size", "lrelu_upsampling", "conv_clamp",
    "magnitude_ema_beta",
}
_MAPPING_KWARGS = {"num_layers": "mapping_layers", "lr_multiplier": "mapping_lr_multiplier",
                   "w_avg_beta": "w_avg_beta"}


def config_from_official_kwargs(kwargs: Mapping[str, Any], path: Path) -> StyleGAN3Config:
    """Our :class:`StyleGAN3Config` from the official ``Generator`` constructor arguments.

    Raises
    ------
    segbench.errors.InputError
        Conditional generator, unknown arguments, or a conv kernel / filter combination
        that is neither config T nor R.
    """
    kwargs = dict(kwargs)
    if int(kwargs.pop("c_dim", 0) or 0) != 0:
        raise InputError(path, "holds a class-conditional generator (c_dim > 0)", "give an unconditional one")
    fields: dict[str, Any] = {}
    for key in ("z_dim", "w_dim", "img_channels"):
        if key not in kwargs:
            raise InputError(path, f"generator arguments lack '{key}'", "give an official StyleGAN3 snapshot")
        fields[key] = int(_plain(kwargs.pop(key)))
    if "img_resolution" not in kwargs:
        raise InputError(path, "generator arguments lack 'img_resolution'", "give an official StyleGAN3 snapshot")
    fields["resolution"] = int(_plain(kwargs.pop("img_resolution")))
    for key, value in dict(kwargs.pop("mapping_kwargs", None) or {}).items():
        if key not in _MAPPING_KWARGS:
            raise InputError(path, f"unsupported mapping network argument '{key}'",
                             "only official StyleGAN3 generators are supported")
        fields[_MAPPING_KWARGS[key]] = _plain(value)
    kernel = int(kwargs.pop("conv_kernel", 3))
    radial = bool(kwargs.pop("use_radial_filters", False))
    if (kernel, radial) not in ((3, False), (1, True)):
        raise InputError(path, f"conv_kernel={kernel} with use_radial_filters={radial} is neither config T "
                         "nor R", "only the official T and R configurations are supported")
    fields["architecture"] = "r" if radial else "t"
    for key, value in kwargs.items():
        if key in _IGNORED_KWARGS:
            continue
        if key not in _SYNTHESIS_KWARGS:
            raise InputError(path, f"unsupported generator argument '{key}'",
                             "only official StyleGAN3 generators are supported")
        fields[key] = _plain(value)
    try:
        return StyleGAN3Config(**fields)
    except ValueError as err:
        raise InputError(path, f"unsupported generator settings ({err})", "") from None


def _plain(value: Any) -> Any:
    """numpy scalars to Python numbers (configs must stay JSON-able)."""
    return value.item() if isinstance(value, np.generic) else value


def load_official_pickle(path: str | Path) -> tuple[StyleGAN3Config, dict[str, torch.Tensor]]:
    """Architecture and EMA generator weights of a StyleGAN3 pickle (see the module
    docstring for the supported layouts).

    Returns
    -------
    config : StyleGAN3Config
    state_dict : dict of str to Tensor
        Official key names, which are also ours (``Generator.load_state_dict``).

    Raises
    ------
    segbench.errors.SegbenchError
        A disallowed global.
    segbench.errors.InputError
        An unsupported layout or generator, or weights that do not fit the
        architecture.
    """
    path = Path(path)
    data = restricted_load(path)
    if not (isinstance(data, dict) and "G_ema" in data):
        raise InputError(path, "holds no 'G_ema' entry", "give an official network-snapshot-*.pkl")
    g = data["G_ema"]
    if isinstance(g, PersistentObject):
        if g.class_name != "Generator":
            raise InputError(path, f"'G_ema' is a {g.class_name}, not a Generator", "give a StyleGAN3 snapshot")
        kwargs = g.state.get("_init_kwargs")
        state: dict[str, torch.Tensor] = {}
        _collect_state(g, "", state, path)
    elif isinstance(g, Mapping) and all(isinstance(v, torch.Tensor) for v in g.values()):
        kwargs = data.get("G_ema_kwargs")
        state = {k: v.detach() for k, v in g.items()}
    else:
        raise InputError(path, f"'G_ema' is a {type(g).__name__}, neither a persistent Generator nor a "
                         "state dict", "give an official network-snapshot-*.pkl")
    if not isinstance(kwargs, Mapping):
        raise InputError(path, "holds no generator constructor arguments", "see docs/stylegan3.md for the layouts")
    cfg = config_from_official_kwargs(kwargs, path)
    expected = Generator(cfg).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = [f"{label} {keys[:3]}{' ...' if len(keys) > 3 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
                 if keys]
        raise InputError(path, "weights do not fit a StyleGAN3 generator: " + "; ".join(parts),
                         "give an official StyleGAN3 (T or R) snapshot")
    return cfg, {k: v.float() for k, v in state.items()}
