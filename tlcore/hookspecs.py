"""The hooks a tlcore plugin may implement.

Every hook only *registers* component classes through the ``register`` callback
it is given; behaviour lives on the interfaces (:class:`~tlcore.backbone.Backbone`,
:class:`~tlcore.head.Head`, :class:`~tlcore.freeze.FreezePolicy`). A plugin is a
module (or object) with functions decorated by :data:`hookimpl`, exposed through
the ``tlcore`` entry-point group::

    # pyproject.toml
    [project.entry-points.tlcore]
    my_plugin = "my_plugin"

    # my_plugin.py
    from tlcore import hookimpl

    @hookimpl
    def tlcore_register_backbones(register):
        register(MyBackbone)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from tlcore.backbone import Backbone
    from tlcore.freeze import FreezePolicy
    from tlcore.head import Head
    from tlcore.images import ImageReader

PROJECT_NAME = "tlcore"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def tlcore_register_backbones(register: Callable[[type[Backbone]], None]) -> None:
    """Register :class:`~tlcore.backbone.Backbone` subclasses.

    Each class is selected in a config by its ``name`` class attribute and is
    configured by its ``config_class`` (a :class:`~tlcore.config.BackboneConfig`).

    Args:
        register: Call once per backbone class, e.g. ``register(TimmBackbone)``.
    """


@hookspec
def tlcore_register_heads(register: Callable[[type[Head]], None]) -> None:
    """Register :class:`~tlcore.head.Head` subclasses (features to logits).

    Args:
        register: Call once per head class, e.g. ``register(LinearHead)``.
    """


@hookspec
def tlcore_register_freeze_policies(register: Callable[[type[FreezePolicy]], None]) -> None:
    """Register :class:`~tlcore.freeze.FreezePolicy` subclasses (training strategies).

    Args:
        register: Call once per policy class, e.g. ``register(FineTuning)``.
    """


@hookspec
def tlcore_register_image_readers(register: Callable[[type[ImageReader]], None]) -> None:
    """Register :class:`~tlcore.images.ImageReader` subclasses (file formats).

    A reader is chosen by file extension, or else by sniffing the file's first bytes,
    so a plugin can add DICOM, NIfTI or whole-slide formats.

    Args:
        register: Call once per reader class, e.g. ``register(DicomReader)``.
    """
