"""Plugin discovery and the component registries built from it.

Plugins are found through the ``tlcore`` entry-point group, the built-in ones
exactly like third-party ones. Nothing is loaded at import time: the plugin
manager is created on first use. A plugin that fails to import, or whose hook
raises, is reported (``tlcore plugins`` lists it) and the others still work.

Environment variables:
    TLCORE_DISABLE_PLUGIN_AUTOLOAD: when set to a non-empty value other than ``0``,
        no entry point is loaded; only plugins passed to :func:`register_plugin` are used.
    TLCORE_DISABLE_PLUGINS: comma-separated entry-point or distribution names to skip.
"""

from __future__ import annotations

import importlib.metadata
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import pluggy

from tlcore import hookspecs
from tlcore.errors import DuplicateComponentError, PluginError
from tlcore.registry import Registry

ENTRY_POINT_GROUP = "tlcore"
ENV_DISABLE_AUTOLOAD = "TLCORE_DISABLE_PLUGIN_AUTOLOAD"
ENV_DISABLE_PLUGINS = "TLCORE_DISABLE_PLUGINS"

_HOOK_OF_KIND = {
    "backbone": "tlcore_register_backbones",
    "head": "tlcore_register_heads",
    "policy": "tlcore_register_freeze_policies",
    "image_reader": "tlcore_register_image_readers",
}


class PluginLoadWarning(UserWarning):
    """A plugin failed to load; the other plugins still work."""


@dataclass
class PluginInfo:
    """An installed plugin and what it registered."""

    name: str
    distribution: str | None
    version: str | None
    registers: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be used, and why."""

    name: str
    distribution: str | None
    version: str | None
    error: str

    def describe(self) -> str:
        """One line naming the plugin, its distribution and the error."""
        dist = f" from {self.distribution} {self.version or ''}".rstrip() if self.distribution else ""
        return f"plugin '{self.name}'{dist} failed: {self.error}"


@dataclass
class _State:
    manager: pluggy.PluginManager
    infos: dict[str, PluginInfo]
    failures: list[PluginFailure]
    registries: dict[str, Registry[Any]] = field(default_factory=dict)


_state: _State | None = None
_extra_plugins: list[tuple[object, str]] = []


def _disabled_names() -> set[str]:
    raw = os.environ.get(ENV_DISABLE_PLUGINS, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _autoload_enabled() -> bool:
    return os.environ.get(ENV_DISABLE_AUTOLOAD, "") in ("", "0")


def _fail(state: _State, failure: PluginFailure) -> None:
    state.failures.append(failure)
    warnings.warn(failure.describe(), PluginLoadWarning, stacklevel=3)


def _register(state: _State, plugin: object, name: str, dist: str | None, version: str | None) -> None:
    try:
        state.manager.register(plugin, name=name)
        state.manager.check_pending()
    except (ValueError, pluggy.PluginValidationError) as error:
        if state.manager.is_registered(plugin):
            state.manager.unregister(plugin)
        _fail(state, PluginFailure(name, dist, version, f"{type(error).__name__}: {error}"))
        return
    state.infos[name] = PluginInfo(name, dist, version)


def _load_entry_points(state: _State) -> None:
    disabled = _disabled_names()
    seen: set[tuple[str, str]] = set()
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist.name if entry_point.dist is not None else None
        version = entry_point.dist.version if entry_point.dist is not None else None
        if (entry_point.name, entry_point.value) in seen:
            continue
        seen.add((entry_point.name, entry_point.value))
        if entry_point.name in disabled or (dist is not None and dist in disabled):
            continue
        try:
            plugin = entry_point.load()
        except Exception as error:
            _fail(state, PluginFailure(entry_point.name, dist, version, f"import failed: "
                                       f"{type(error).__name__}: {error}"))
            continue
        _register(state, plugin, entry_point.name, dist, version)


def _get_state() -> _State:
    global _state
    if _state is None:
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        state = _State(manager, {}, [])
        if _autoload_enabled():
            _load_entry_points(state)
        for plugin, name in _extra_plugins:
            _register(state, plugin, name, None, None)
        _state = state
    return _state


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the plugin manager, loading the ``tlcore`` entry points on first call."""
    return _get_state().manager


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register an in-process plugin (a module or object with hook implementations).

    Useful in notebooks and tests. Registries are rebuilt on next use.

    Args:
        plugin: The object whose ``@hookimpl`` functions register components.
        name: The plugin name shown in listings and errors; defaults to the object's name.
    """
    _extra_plugins.append((plugin, name or str(getattr(plugin, "__name__", type(plugin).__name__))))
    reset_plugins(keep_registered=True)


def reset_plugins(keep_registered: bool = False) -> None:
    """Forget loaded plugins so the next use discovers them again (mainly for tests)."""
    global _state
    _state = None
    if not keep_registered:
        _extra_plugins.clear()


def _build_registry(state: _State, kind: str) -> Registry[Any]:
    from tlcore.backbone import Backbone
    from tlcore.config import BackboneConfig, FreezePolicyConfig, HeadConfig, ImageReaderConfig
    from tlcore.freeze import FreezePolicy
    from tlcore.head import Head
    from tlcore.images import ImageReader

    bases: dict[str, tuple[type, type]] = {
        "backbone": (Backbone, BackboneConfig),
        "head": (Head, HeadConfig),
        "policy": (FreezePolicy, FreezePolicyConfig),
        "image_reader": (ImageReader, ImageReaderConfig),
    }
    base, config_base = bases[kind]
    registry: Registry[Any] = Registry(kind, base, config_base, [f.name for f in state.failures])
    hook = getattr(state.manager.hook, _HOOK_OF_KIND[kind])
    for impl in reversed(hook.get_hookimpls()):
        info = state.infos.get(impl.plugin_name)
        dist = info.distribution if info else None

        def register(component: type, _plugin: str = impl.plugin_name, _dist: str | None = dist) -> None:
            registry.add(component, _plugin, _dist)

        before = set(registry.names())
        try:
            impl.function(register=register)
        except DuplicateComponentError:
            raise
        except Exception as error:
            message = f"{_HOOK_OF_KIND[kind]} raised {type(error).__name__}: {error}"
            if isinstance(error, PluginError):
                message = str(error)
            _fail(state, PluginFailure(impl.plugin_name, dist, info.version if info else None, message))
            registry.failed_plugins.append(impl.plugin_name)
            continue
        if info is not None:
            info.registers.setdefault(kind, []).extend(sorted(set(registry.names()) - before))
    return registry


def registry(kind: str) -> Registry[Any]:
    """Return the registry of ``kind`` (``"backbone"``, ``"head"``, ``"policy"`` or ``"image_reader"``)."""
    if kind not in _HOOK_OF_KIND:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {sorted(_HOOK_OF_KIND)}")
    state = _get_state()
    if kind not in state.registries:
        state.registries[kind] = _build_registry(state, kind)
    return state.registries[kind]


def plugin_report() -> tuple[list[PluginInfo], list[PluginFailure]]:
    """Return every loaded plugin with what it registers, and every failure."""
    for kind in _HOOK_OF_KIND:
        registry(kind)
    state = _get_state()
    return sorted(state.infos.values(), key=lambda i: i.name), list(state.failures)
