"""Plugin discovery: pluggy hook specs, entry-point loading, and the registry.

Plugins are modules named by entry points in the group ``segbench``::

    [project.entry-points.segbench]
    otsu = "my_package.plugin"

and implement any of the hooks of :class:`HookSpecs` with the
``segbench.hookimpl`` marker. A plugin that fails to import, whose hook raises,
that registers something that is not a proper plugin class, or that defines a
``segbench_*`` function that is no segbench hook (a misspelling, or a hook
without the marker) is reported in one line (entry point, distribution,
problem) and the others load. Two plugins registering one name is a conflict
naming both distributions; that name is then unusable until one is
uninstalled. docs/plugins.md is the guide for plugin authors.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import inspect
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Iterable, Protocol

import pluggy

from .api import DatasetSource, Generator, Metric, Segmenter
from .errors import did_you_mean

PROJECT = "segbench"
ENTRY_POINT_GROUP = "segbench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Subcommands(Protocol):
    """The ``segbench`` command line's table of subcommands, as
    :func:`segbench_add_commands <HookSpecs.segbench_add_commands>` receives it
    (the object :meth:`argparse.ArgumentParser.add_subparsers` returns)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add the subcommand ``name`` and return its parser; ``kwargs`` are
        those of :class:`argparse.ArgumentParser` (``help``, ``description``, ...)."""


class HookSpecs:
    """The hooks a segbench plugin may implement.

    Each is an optional function of the plugin (the module, or the object,
    an entry point names), marked ``@segbench.hookimpl`` and named exactly as
    here; it may declare fewer parameters than the spec, never others. Every
    installed plugin's hooks are called; their results are combined.
    :func:`segbench.kit.plugin` writes the register hooks from classes.
    """

    @hookspec
    def segbench_register_segmenters(self) -> list[type[Segmenter]]:
        """Return the plugin's segmentation methods.

        Called once each time segbench loads its plugins (every command that
        needs them: ``segbench run``, ``segbench list``, ...), in the process
        that loads them, before any suite is read.

        :returns:
            :class:`segbench.Segmenter` subclasses (classes, not instances),
            each with a unique class attribute ``name``; an empty list
            registers nothing. Anything else is reported as a load problem
            and skipped.
        """

    @hookspec
    def segbench_register_generators(self) -> list[type[Generator]]:
        """Return the plugin's image generators (``generator: NAME`` in a suite).

        Called like :meth:`segbench_register_segmenters`.

        :returns:
            :class:`segbench.Generator` subclasses, each with a unique ``name``.
        """

    @hookspec
    def segbench_register_datasets(self) -> list[type[DatasetSource]]:
        """Return the plugin's dataset providers (``dataset: NAME`` in a suite).

        Called like :meth:`segbench_register_segmenters`.

        :returns:
            :class:`segbench.DatasetSource` subclasses, each with a unique
            ``name``; ``load(**params)`` returns a :class:`segbench.Dataset`.
        """

    @hookspec
    def segbench_register_metrics(self) -> list[type[Metric]]:
        """Return the plugin's extra per-image metrics.

        Called like :meth:`segbench_register_segmenters`; every registered
        metric is computed for every scored image of every run.

        :returns:
            :class:`segbench.Metric` subclasses, each with a unique ``name``;
            ``compute(gt, pred)`` returns ``{column: float}``, stored per image
            as the column ``NAME.column``.
        """

    @hookspec
    def segbench_add_commands(self, subparsers: Subcommands) -> None:
        """Add subcommands to the ``segbench`` command line.

        Called once while the command line is built, when the command given
        is not one of segbench's own (and for ``segbench --help``, which
        lists every command), after the core's subcommands are added.

        :param subparsers:
            The command line's subcommands (:class:`Subcommands`). Add each
            with ``parser = subparsers.add_parser("NAME", help="one line")``,
            add its arguments, and set its handler with
            ``parser.set_defaults(func=handler)``; ``handler(args)`` gets the
            parsed :class:`argparse.Namespace` and returns the exit code
            (``int``).
        :returns:
            Nothing.
        """


#: the names of every hook a plugin may implement
HOOK_NAMES: tuple[str, ...] = tuple(
    name for name, _ in inspect.getmembers(HookSpecs, inspect.isfunction) if name.startswith(PROJECT + "_")
)

#: kind -> (hook name, required base class)
KINDS: dict[str, tuple[str, type]] = {
    "segmenter": ("segbench_register_segmenters", Segmenter),
    "generator": ("segbench_register_generators", Generator),
    "dataset": ("segbench_register_datasets", DatasetSource),
    "metric": ("segbench_register_metrics", Metric),
}


class PluginError(Exception):
    """A plugin name that cannot be used (unknown or claimed twice)."""


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin class and where it came from."""

    kind: str
    name: str
    cls: type
    distribution: str
    version: str
    description: str

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "description": self.description,
        }


@dataclass(frozen=True)
class LoadProblem:
    """A plugin that could not be loaded, or registered something broken."""

    source: str
    distribution: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.source!r} (distribution {self.distribution}): {self.error}"


@dataclass
class Registry:
    """Every plugin that loaded, by kind and name, plus what went wrong."""

    plugins: dict[str, dict[str, PluginInfo]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    conflicts: dict[tuple[str, str], list[PluginInfo]] = field(default_factory=dict)
    problems: list[LoadProblem] = field(default_factory=list)
    manager: pluggy.PluginManager | None = None

    def get(self, kind: str, name: str) -> PluginInfo:
        """The plugin of ``kind`` called ``name``; :class:`PluginError` with the
        installed names (or the conflicting distributions) otherwise."""
        if (kind, name) in self.conflicts:
            dists = " and ".join(
                f"{p.distribution} {p.version}" for p in self.conflicts[(kind, name)]
            )
            raise PluginError(
                f"{kind} {name!r} is registered by both {dists}; uninstall one of them"
            )
        try:
            return self.plugins[kind][name]
        except KeyError:
            installed = ", ".join(sorted(self.plugins[kind])) or "none"
            hint = did_you_mean(name, self.plugins[kind])
            raise PluginError(
                f"unknown {kind} {name!r}{hint}; installed: {installed}"
            ) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.plugins[kind])

    def all(self) -> list[PluginInfo]:
        return [info for kind in KINDS for info in self.plugins[kind].values()]


def _distribution_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown", "?"
    return dist.metadata["Name"], dist.version


def _describe(cls: type) -> str:
    text = getattr(cls, "description", "") or (cls.__doc__ or "").strip()
    return text.splitlines()[0].strip() if text else ""


def create_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    return manager


def load_registry(extra: Iterable[tuple[ModuleType | Any, str, str]] = ()) -> Registry:
    """Load every plugin from the ``segbench`` entry-point group.

    Parameters
    ----------
    extra : iterable of (plugin object, distribution, version)
        Plugins registered in-process in addition to the entry points (for tests
        and for code that embeds segbench).
    """
    registry = Registry(manager=create_manager())
    manager = registry.manager
    sources: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)

    def register(plugin: Any, name: str | None, dist: str, version: str) -> None:
        try:
            name = manager.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:  # a hook whose parameters the spec lacks
            detail = " ".join(str(exc).split("\n", 1)[-1].split())  # without pluggy's "Plugin X for hook Y"
            registry.problems.append(LoadProblem(
                name or manager.get_canonical_name(plugin), dist,
                f"{detail}; a hook may take only the parameters its spec names (docs/plugins.md)",
            ))
            return
        sources[name] = (dist, version)
        problem = _misnamed_hooks(manager, plugin)
        if problem:
            registry.problems.append(LoadProblem(name, dist, problem))

    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist, version = _distribution_of(ep)
        if manager.has_plugin(ep.name):
            continue  # the same entry point seen twice (e.g. an editable install)
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the rest
            registry.problems.append(
                LoadProblem(ep.name, dist, f"failed to import: {type(exc).__name__}: {exc}")
            )
            continue
        register(module, ep.name, dist, version)

    for plugin, dist, version in extra:
        register(plugin, None, dist, version)

    for kind, (hook_name, base) in KINDS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            dist, version = sources.get(impl.plugin_name, ("unknown", "?"))
            try:
                classes = impl.function() or []
            except Exception as exc:  # noqa: BLE001
                registry.problems.append(
                    LoadProblem(impl.plugin_name, dist, f"{hook_name} raised {type(exc).__name__}: {exc}")
                )
                continue
            for cls in classes:
                problem = _check_class(cls, base)
                if problem:
                    registry.problems.append(LoadProblem(impl.plugin_name, dist, problem))
                    continue
                info = PluginInfo(kind, cls.name, cls, dist, version, _describe(cls))
                _add(registry, info)
    return registry


def _misnamed_hooks(manager: pluggy.PluginManager, plugin: Any) -> str | None:
    """One line naming the plugin's would-be hooks that segbench never calls, or None.

    Those are hook implementations whose name is no segbench hook (what
    ``PluginManager.check_pending`` rejects; ``optionalhook=True`` ones are
    allowed, as in pluggy) and functions named like a hook but not marked
    ``@segbench.hookimpl``.
    """
    unknown = sorted(
        caller.name
        for caller in manager.get_hookcallers(plugin) or ()
        if not caller.has_spec()
        and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
    )
    unmarked = [
        name for name in HOOK_NAMES
        if callable(getattr(plugin, name, None)) and manager.parse_hookimpl_opts(plugin, name) is None
    ]
    parts = []
    for name in unknown:
        hint = did_you_mean(name, HOOK_NAMES) or f" (the hooks are {', '.join(HOOK_NAMES)})"
        parts.append(f"hook {name!r} is not a segbench hook{hint}")
    parts += [f"hook {name!r} is not marked @segbench.hookimpl" for name in unmarked]
    if not parts:
        return None
    return "; ".join(parts) + f"; segbench ignores {'it' if len(parts) == 1 else 'them'}"


def _check_class(cls: Any, base: type) -> str | None:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        return f"registered {cls!r}, which is not a subclass of segbench.{base.__name__}"
    if not isinstance(cls.name, str) or not cls.name:
        return f"{cls.__qualname__} has no name (set the class attribute `name`)"
    return None


def _add(registry: Registry, info: PluginInfo) -> None:
    key = (info.kind, info.name)
    if key in registry.conflicts:
        registry.conflicts[key].append(info)
        return
    existing = registry.plugins[info.kind].get(info.name)
    if existing is None:
        registry.plugins[info.kind][info.name] = info
        return
    if existing.cls is info.cls:
        return
    del registry.plugins[info.kind][info.name]
    registry.conflicts[key] = [existing, info]
    registry.problems.append(
        LoadProblem(
            info.name,
            f"{existing.distribution} and {info.distribution}",
            f"{info.kind} name {info.name!r} is claimed by both {existing.distribution} "
            f"and {info.distribution}; uninstall one of them",
        )
    )
