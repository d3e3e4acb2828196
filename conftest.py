"""Test-session setup shared by the core and every plugin's tests.

Library caches (Keras, matplotlib, torch hub, cellpose models) are pointed at a
temporary folder before any test imports those libraries, so tests never write
to (or read weights from) the home directory.
"""

import os
import tempfile

_CACHE = tempfile.mkdtemp(prefix="segbench-test-cache-")
for _var, _sub in {
    "KERAS_HOME": "keras",
    "MPLCONFIGDIR": "matplotlib",
    "TORCH_HOME": "torch",
    "CELLPOSE_LOCAL_MODELS_PATH": "cellpose",
    "XDG_CACHE_HOME": "xdg",
    "SEGBENCH_CACHE": "segbench",
}.items():
    os.environ[_var] = os.path.join(_CACHE, _sub)
    os.makedirs(os.environ[_var], exist_ok=True)
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
