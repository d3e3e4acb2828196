"""Plugin discovery: registration, broken plugins reported, name conflicts."""

import types

import pytest

import segbench
from segbench.plugins import PluginError, load_registry


def plugin_module(name, segmenters=(), raises=None):
    module = types.ModuleType(name)

    @segbench.hookimpl
    def segbench_register_segmenters():
        if raises:
            raise raises
        return list(segmenters)

    module.segbench_register_segmenters = segbench_register_segmenters
    return module


class Good(segbench.Segmenter):
    """A good segmenter.

    More text that `segbench list` does not show."""

    name = "good"

    def predict(self, image):
        return image.astype(int)


class Nameless(segbench.Segmenter):
    def predict(self, image):
        return image


def test_builtins_register_through_the_entry_point():
    registry = load_registry()
    info = registry.get("segmenter", "otsu-watershed")
    assert info.distribution == "segbench" and info.version == segbench.__version__
    assert registry.get("generator", "procedural").distribution == "segbench"


def test_extra_plugin_registers_with_description():
    registry = load_registry(extra=[(plugin_module("p", [Good]), "dist-a", "1.2")])
    info = registry.get("segmenter", "good")
    assert (info.distribution, info.version, info.description) == ("dist-a", "1.2", "A good segmenter.")


def test_broken_registrations_are_reported_and_the_rest_load():
    registry = load_registry(
        extra=[
            (plugin_module("ok", [Good]), "dist-ok", "1"),
            (plugin_module("bad-class", [Nameless, dict]), "dist-bad", "2"),
            (plugin_module("raiser", raises=RuntimeError("boom")), "dist-raise", "3"),
        ]
    )
    assert "good" in registry.names("segmenter")
    problems = sorted(str(p) for p in registry.problems if p.distribution in ("dist-bad", "dist-raise"))
    assert problems == [
        "plugin 'bad-class' (distribution dist-bad): Nameless has no name (set the class attribute `name`)",
        "plugin 'bad-class' (distribution dist-bad): registered <class 'dict'>, which is not a subclass of segbench.Segmenter",
        "plugin 'raiser' (distribution dist-raise): segbench_register_segmenters raised RuntimeError: boom",
    ]


def test_two_distributions_claiming_one_name_is_an_error_naming_both():
    class Other(Good):
        pass

    registry = load_registry(
        extra=[(plugin_module("a", [Good]), "dist-a", "1"), (plugin_module("b", [Other]), "dist-b", "2")]
    )
    with pytest.raises(PluginError, match=r"segmenter 'good' is registered by both dist-a 1 and dist-b 2; uninstall one"):
        registry.get("segmenter", "good")
    assert any("claimed by both dist-a and dist-b" in str(p) for p in registry.problems)


def test_unknown_name_suggests_and_lists():
    registry = load_registry()
    with pytest.raises(PluginError, match=r"unknown segmenter 'otsu-watershad' \(did you mean 'otsu-watershed'\?\); installed: "):
        registry.get("segmenter", "otsu-watershad")
