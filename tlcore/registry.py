"""Registries of component classes (backbones, heads, freeze policies) by name."""

from __future__ import annotations

import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tlcore.errors import DuplicateComponentError, PluginError, UnknownComponentError, did_you_mean

T = TypeVar("T")


@dataclass(frozen=True)
class Registration(Generic[T]):
    """One registered component class and the plugin that registered it."""

    name: str
    component: type[T]
    plugin: str
    distribution: str | None

    @property
    def config_class(self) -> Any:
        """The component's pydantic config class."""
        return self.component.config_class  # type: ignore[attr-defined]

    @property
    def origin(self) -> str:
        """Human-readable origin, e.g. ``plugin 'timm' (tlcore)``."""
        dist = f" ({self.distribution})" if self.distribution else ""
        return f"plugin '{self.plugin}'{dist}"


class Registry(Generic[T]):
    """Component classes of one kind, keyed by their ``name`` class attribute.

    Args:
        kind: What the registry holds, e.g. ``"backbone"``; used in messages.
        base: The interface every registered class must subclass.
        config_base: The config class every component's ``config_class`` must subclass.
        failed_plugins: Names of plugins that failed to load, mentioned when a name is unknown.
    """

    def __init__(self, kind: str, base: type[T], config_base: type, failed_plugins: Sequence[str] = ()) -> None:
        self.kind = kind
        self.base = base
        self.config_base = config_base
        self.failed_plugins = list(failed_plugins)
        self._entries: dict[str, Registration[T]] = {}

    def add(self, component: type[T], plugin: str, distribution: str | None = None) -> None:
        """Register ``component``; raise if it breaks the contract or its name is taken."""
        where = f"plugin '{plugin}'"
        if not (isinstance(component, type) and issubclass(component, self.base)):
            raise PluginError(f"{where} registered {component!r} as a {self.kind}, but it does not "
                              f"subclass {self.base.__module__}.{self.base.__qualname__}.")
        name = getattr(component, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{where}: {component.__qualname__} needs a non-empty `name` class attribute.")
        config_class = getattr(component, "config_class", None)
        if not (isinstance(config_class, type) and issubclass(config_class, self.config_base)):
            raise PluginError(f"{where}: {component.__qualname__}.config_class must subclass "
                              f"{self.config_base.__qualname__}.")
        field = config_class.model_fields.get("name")  # type: ignore[attr-defined]
        if field is None or (field.default != name and typing.get_args(field.annotation) != (name,)):
            raise PluginError(f"{where}: {config_class.__qualname__}.name must be Literal['{name}'] "
                              f"with default '{name}'.")
        if name in self._entries:
            other = self._entries[name]
            raise DuplicateComponentError(
                f"{self.kind} '{name}' is registered twice: by {other.origin} and by {where}"
                f"{f' ({distribution})' if distribution else ''}. Uninstall one, or disable it with "
                f"TLCORE_DISABLE_PLUGINS={plugin}."
            )
        self._entries[name] = Registration(name, component, plugin, distribution)

    def get(self, name: str) -> Registration[T]:
        """Return the registration for ``name``.

        Raises:
            UnknownComponentError: No installed plugin registers ``name``; the message lists
                close matches and everything installed.
        """
        try:
            return self._entries[name]
        except KeyError:
            pass
        message = f"unknown {self.kind} '{name}'.{did_you_mean(name, self._entries)}"
        message += f" Installed {self.kind}s: {', '.join(sorted(self._entries)) or 'none'}."
        if self.failed_plugins:
            message += f" Plugins that failed to load: {', '.join(self.failed_plugins)} (see `tlcore plugins`)."
        raise UnknownComponentError(message)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Registration[T]]:
        return iter(sorted(self._entries.values(), key=lambda r: r.name))

    def __len__(self) -> int:
        return len(self._entries)
