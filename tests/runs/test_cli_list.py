"""`segbench list`: plugin text (names, descriptions, defaults) is shown as
written, never read as rich markup."""

import types

import numpy as np
import pytest

import segbench
import segbench.plugins
from segbench.cli import main


class Bracketed(segbench.Segmenter):
    """Segments [bold]nothing[/bold] at all.

    Parameters
    ----------
    channels : list of int
        Cellpose 3's ``[channel to segment, nuclear channel]``, 0 = grayscale.
    """

    name = "bracketed"

    def __init__(self, channels=("[red]", 0)):
        self.channels = channels

    def predict(self, image):
        return np.zeros(image.shape, np.int32)


@pytest.fixture
def with_bracketed(monkeypatch):
    module = types.ModuleType("bracketed_plugin")
    module.segbench_register_segmenters = segbench.hookimpl(lambda: [Bracketed])
    real = segbench.plugins.load_registry
    monkeypatch.setattr(
        segbench.plugins, "load_registry", lambda extra=(): real(extra=[*extra, (module, "bracket[s]", "1.0")])
    )
    monkeypatch.setenv("COLUMNS", "240")


def test_list_params_shows_square_brackets_as_written(with_bracketed, capsys):
    assert main(["list", "--params"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Cellpose 3's [channel to segment, nuclear channel], 0 = grayscale." in out
    assert "Segments [bold]nothing[/bold] at all." in out
    assert "bracket[s]" in out and '["[red]", 0]' in out
