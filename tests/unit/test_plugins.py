"""Plugin discovery: registration, broken plugins and misnamed hooks reported,
name conflicts, the hook specs' documentation."""

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


def module_with(name, **functions):
    """A plugin module holding ``functions`` under their keyword names."""
    module = types.ModuleType(name)
    for attr, function in functions.items():
        setattr(module, attr, function)
    return module


@segbench.hookimpl
def misspelled():
    return [Good]


def test_a_misspelled_hook_is_one_problem_with_the_right_name():
    registry = load_registry(extra=[(module_with("typo", segbench_register_segmenter=misspelled), "dist-typo", "1")])
    assert "good" not in registry.names("segmenter")
    (problem,) = [str(p) for p in registry.problems if p.distribution == "dist-typo"]
    assert problem == (
        "plugin 'typo' (distribution dist-typo): hook 'segbench_register_segmenter' is not a segbench hook "
        "(did you mean 'segbench_register_segmenters'?); segbench ignores it"
    )


def test_every_misnamed_hook_of_a_plugin_shares_its_one_line():
    def segbench_register_metrics():  # no marker
        return []

    plugin = module_with(
        "typos", segbench_register_segmenter=misspelled, segbench_frobnicate=misspelled,
        segbench_register_metrics=segbench_register_metrics,
    )
    registry = load_registry(extra=[(plugin, "dist-typos", "1")])
    (problem,) = [p.error for p in registry.problems if p.distribution == "dist-typos"]
    assert problem == (
        "hook 'segbench_frobnicate' is not a segbench hook (the hooks are segbench_add_commands, "
        "segbench_register_datasets, segbench_register_generators, segbench_register_metrics, "
        "segbench_register_segmenters); "
        "hook 'segbench_register_segmenter' is not a segbench hook (did you mean 'segbench_register_segmenters'?); "
        "hook 'segbench_register_metrics' is not marked @segbench.hookimpl; segbench ignores them"
    )


def test_correct_and_optional_hooks_are_no_problem():
    @segbench.hookimpl(optionalhook=True)
    def segbench_hook_of_a_later_version():
        return []

    plugin = plugin_module("fine", [Good])
    plugin.segbench_hook_of_a_later_version = segbench_hook_of_a_later_version
    registry = load_registry(extra=[(plugin, "dist-fine", "1")])
    assert "good" in registry.names("segmenter")
    assert [p for p in registry.problems if p.distribution == "dist-fine"] == []


def test_a_hook_taking_parameters_its_spec_lacks_is_one_line():
    @segbench.hookimpl
    def segbench_add_commands(parser):
        pass

    registry = load_registry(extra=[(module_with("args", segbench_add_commands=segbench_add_commands), "dist-args", "1")])
    (problem,) = [str(p) for p in registry.problems if p.distribution == "dist-args"]
    assert "\n" not in problem
    assert problem.startswith("plugin 'args' (distribution dist-args): hookimpl definition: segbench_add_commands(parser)")
    assert problem.endswith("a hook may take only the parameters its spec names (docs/plugins.md)")


def test_the_hook_specs_document_every_parameter_and_return_and_use_no_private_type():
    import inspect
    import typing

    from segbench.plugins import HOOK_NAMES, KINDS, HookSpecs

    assert set(HOOK_NAMES) == {hook for hook, _ in KINDS.values()} | {"segbench_add_commands"}
    for name in HOOK_NAMES:
        spec = getattr(HookSpecs, name)
        doc = inspect.getdoc(spec)
        assert "Called" in doc and ":returns:" in doc, name
        for parameter in list(inspect.signature(spec).parameters)[1:]:
            assert f":param {parameter}:" in doc, (name, parameter)
        for hint in typing.get_type_hints(spec).values():
            assert "._" not in repr(hint), (name, hint)
