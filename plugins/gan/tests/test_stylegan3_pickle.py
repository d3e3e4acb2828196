"""Official StyleGAN3 pickles: read without the official code, never executing pickled code."""

import os
import pickle
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch

from segbench.errors import InputError, SegbenchError
from segbench_gan.stylegan3 import load_mask_generator
from segbench_gan.stylegan3.config import StyleGAN3Config
from segbench_gan.stylegan3.generator import Generator
from segbench_gan.stylegan3.pickle_io import PersistentObject, load_official_pickle, restricted_load

torch.set_num_threads(1)

# Constructor arguments of an official Generator (training/networks_stylegan3.py), toy-sized.
OFFICIAL_KWARGS = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=1,
                       mapping_kwargs={"num_layers": 2}, channel_base=512, channel_max=16, num_layers=4,
                       margin_size=4, magnitude_ema_beta=np.float64(0.999), num_fp16_res=4, conv_clamp=256)


def _config():
    return StyleGAN3Config(resolution=32, num_layers=4, channel_base=512, channel_max=16, margin_size=4, z_dim=16,
                           w_dim=16)


class _OfficialModules:
    """Stand-ins for the official helper modules while a test pickle is *written*:
    ``torch_utils.persistence._reconstruct_persistent_obj`` and ``dnnlib.util.EasyDict``
    exist only inside this context, so the reader cannot import them."""

    def __enter__(self):
        self.added = {}
        persistence = types.ModuleType("torch_utils.persistence")

        def _reconstruct_persistent_obj(meta):  # pragma: no cover - never called by the reader
            raise AssertionError("the official reconstruct function must not be called")

        _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
        _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
        persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
        util = types.ModuleType("dnnlib.util")
        easy = type("EasyDict", (dict,), {"__module__": "dnnlib.util"})
        util.EasyDict = easy
        for name, module in {"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence,
                             "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util}.items():
            if name not in sys.modules:
                sys.modules[name] = module
                self.added[name] = module
        self.reconstruct, self.EasyDict = _reconstruct_persistent_obj, easy
        return self

    def __exit__(self, *exc):
        for name in self.added:
            del sys.modules[name]


class _Persistent:
    """Pickles like an official persistent object: the reconstruct function with a meta
    dict holding the module source, class name and the object's state."""

    def __init__(self, reconstruct, class_name, state, module_src):
        self.reconstruct, self.class_name, self.state, self.module_src = reconstruct, class_name, state, module_src

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.module_src, class_name=self.class_name,
                    state=self.state)
        return self.reconstruct, (meta,)


def _as_official(module, name, official, module_src, init_kwargs=None):
    """An nn.Module as an official persistent object tree, numpy attributes included."""
    state = {
        "training": False,
        "_parameters": OrderedDict(module._parameters),
        "_buffers": OrderedDict(module._buffers),
        "_non_persistent_buffers_set": set(module._non_persistent_buffers_set),
        "_modules": OrderedDict((k, _as_official(v, type(v).__name__, official, module_src))
                                for k, v in module._modules.items()),
        "_forward_hooks": OrderedDict(),
        "size": np.broadcast_to(np.asarray(36), [2]),
        "sampling_rate": np.float64(16.0),
    }
    if init_kwargs is not None:
        state["_init_args"] = ()
        state["_init_kwargs"] = init_kwargs
    return _Persistent(official.reconstruct, name, state, module_src)


def _write_official_pickle(path, G, module_src="raise SystemExit('pickled source code was executed')"):
    with _OfficialModules() as official:
        kwargs = dict(OFFICIAL_KWARGS, mapping_kwargs=official.EasyDict(OFFICIAL_KWARGS["mapping_kwargs"]))
        snapshot = {
            "G_ema": _as_official(G, "Generator", official, module_src, init_kwargs=kwargs),
            "training_set_kwargs": official.EasyDict(resolution=32, use_labels=False),
            "augment_pipe": None,
        }
        path.write_bytes(pickle.dumps(snapshot, protocol=4))
    return path


def test_official_layout_loads_into_our_generator(tmp_path):
    torch.manual_seed(0)
    G = Generator(_config()).eval()
    with torch.no_grad():  # make the running averages non-trivial so they must be carried over
        G(torch.randn(4, 16), update_emas=True)
    marker = tmp_path / "executed"
    src = f"open({str(marker)!r}, 'w').write('pickled source code was executed')"
    path = _write_official_pickle(tmp_path / "network-snapshot-000000.pkl", G, module_src=src)
    cfg, state = load_official_pickle(path)
    assert cfg == _config()
    assert state.keys() == G.state_dict().keys()
    gen = load_mask_generator(path, device="cpu")
    z = torch.from_numpy(np.stack([np.random.default_rng((7, i)).standard_normal(16) for i in range(8)])).float()
    with torch.no_grad():
        expected = G(z)[:, 0].numpy()
    np.testing.assert_array_equal(gen.sample_logits(8, seed=7), expected)
    assert not marker.exists()  # the stored module source was never executed
    assert gen.info == {"official_pickle": "network-snapshot-000000.pkl"}


def test_restricted_load_records_persistent_objects(tmp_path):
    path = _write_official_pickle(tmp_path / "snap.pkl", Generator(_config()))
    data = restricted_load(path)
    g = data["G_ema"]
    assert isinstance(g, PersistentObject) and g.class_name == "Generator"
    assert isinstance(g.state["_modules"]["mapping"], PersistentObject)
    assert g.state["_init_kwargs"]["mapping_kwargs"] == {"num_layers": 2}
    assert data["training_set_kwargs"] == {"resolution": 32, "use_labels": False}


@pytest.mark.parametrize("protocol", [2, 4])
def test_state_dict_layout_loads(tmp_path, protocol):
    torch.manual_seed(1)
    G = Generator(_config()).eval()
    path = tmp_path / "converted.pkl"
    with path.open("wb") as f:
        pickle.dump({"G_ema": G.state_dict(), "G_ema_kwargs": dict(OFFICIAL_KWARGS)}, f, protocol=protocol)
    gen = load_mask_generator(path, device="cpu")
    z = torch.from_numpy(np.stack([np.random.default_rng((0, i)).standard_normal(16) for i in range(8)])).float()
    with torch.no_grad():
        expected = G(z)[:, 0].numpy()
    np.testing.assert_array_equal(gen.sample_logits(8, seed=0), expected)


def test_config_r_kwargs_are_understood(tmp_path):
    kwargs = dict(OFFICIAL_KWARGS, conv_kernel=1, use_radial_filters=True)
    G = Generator(StyleGAN3Config(**{**_config().to_dict(), "architecture": "r", "channel_base": 512,
                                     "channel_max": 16}))
    path = tmp_path / "r.pkl"
    path.write_bytes(pickle.dumps({"G_ema": G.state_dict(), "G_ema_kwargs": kwargs}))
    cfg, _ = load_official_pickle(path)
    assert cfg.architecture == "r" and cfg.conv_kernel == 1


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_disallowed_global_is_refused_without_executing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "network-snapshot-evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Evil(marker)}))
    with pytest.raises(SegbenchError) as err:
        load_mask_generator(path)
    message = str(err.value)
    assert message == (
        f"{path}: refused to unpickle the global '{os.system.__module__}.system': only tensors, arrays, plain "
        "containers and StyleGAN3 network state are allowed, because any other global could execute code "
        "while loading"
    )
    assert "\n" not in message
    assert not marker.exists()


@pytest.mark.parametrize("module,name", [("builtins", "eval"), ("torch_utils.persistence", "_src_to_module"),
                                         ("torch", "load"), ("numpy", "load")])
def test_other_dangerous_globals_are_refused(tmp_path, module, name):
    # GLOBAL opcode naming module.name, then STOP: a minimal pickle referencing a global.
    path = tmp_path / "g.pkl"
    path.write_bytes(b"c" + module.encode() + b"\n" + name.encode() + b"\n.")
    with pytest.raises(SegbenchError, match=rf"refused to unpickle the global '{module}\.{name}'"):
        restricted_load(path)


def test_unsupported_generators_are_refused_with_one_line(tmp_path):
    G = Generator(_config())
    cond = tmp_path / "cond.pkl"
    cond.write_bytes(pickle.dumps({"G_ema": G.state_dict(), "G_ema_kwargs": dict(OFFICIAL_KWARGS, c_dim=10)}))
    with pytest.raises(InputError, match=r"holds a class-conditional generator \(c_dim > 0\)"):
        load_official_pickle(cond)
    wrong = tmp_path / "wrong.pkl"
    state = {k: v for k, v in G.state_dict().items() if k != "mapping.w_avg"}
    wrong.write_bytes(pickle.dumps({"G_ema": state, "G_ema_kwargs": OFFICIAL_KWARGS}))
    with pytest.raises(InputError, match=r"weights do not fit a StyleGAN3 generator: missing \['mapping.w_avg'\]"):
        load_official_pickle(wrong)
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="is not a readable pickle"):
        load_official_pickle(garbage)
    no_g = tmp_path / "nog.pkl"
    no_g.write_bytes(pickle.dumps({"D": 1}))
    with pytest.raises(InputError, match="holds no 'G_ema' entry"):
        load_official_pickle(no_g)
