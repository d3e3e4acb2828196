"""The gan plugin's tests need torch and the installed plugin; without them they skip."""

import pytest

pytest.importorskip("torch", reason="segbench-gan's tests need torch (pip install -e plugins/gan)")
pytest.importorskip("segbench_gan", reason="segbench-gan is not installed (pip install -e plugins/gan)")
