"""Plugin discovery through entry points, failures, duplicates and disabling."""

from __future__ import annotations

import types

import pytest

from tlcore.errors import DuplicateComponentError, UnknownComponentError
from tlcore.plugins import PluginLoadWarning, plugin_report, register_plugin, registry

BACKBONE_NAMED_TIMM = '''
from typing import Literal
from tlcore import hookimpl
from tlcore.config import BackboneConfig
from tlcore_example import TinyCNN

class Config(BackboneConfig):
    name: Literal["timm"] = "timm"

class Impostor(TinyCNN):
    name = "timm"
    config_class = Config

@hookimpl
def tlcore_register_backbones(register):
    register(Impostor)
'''


def test_builtin_plugins_come_from_the_entry_point_group() -> None:
    timm = registry("backbone").get("timm")
    assert (timm.plugin, timm.distribution) == ("timm", "tlcore")
    assert {"timm", "torchvision"} <= set(registry("backbone").names())
    assert {"linear", "mlp"} <= set(registry("head").names())
    assert {"feature_extraction", "fine_tuning"} <= set(registry("policy").names())


def test_report_lists_distribution_version_and_registrations() -> None:
    infos, failures = plugin_report()
    by_name = {info.name: info for info in infos}
    assert by_name["heads"].distribution == "tlcore"
    assert by_name["heads"].version
    assert by_name["heads"].registers == {"head": ["linear", "mlp"]}
    assert failures == []


def test_broken_plugin_is_reported_by_distribution_and_others_still_load(make_dist) -> None:  # type: ignore[no-untyped-def]
    make_dist("broken-tlcore-plugin", "tlcore_broken", "raise ImportError('missing dependency xyz')")
    with pytest.warns(PluginLoadWarning, match="broken-tlcore-plugin"):
        assert "timm" in registry("backbone")
    _, failures = plugin_report()
    assert [(f.name, f.distribution) for f in failures] == [("tlcore_broken", "broken-tlcore-plugin")]
    assert "missing dependency xyz" in failures[0].error
    with pytest.raises(UnknownComponentError, match="failed to load: tlcore_broken"):
        registry("backbone").get("broken_backbone")


def test_duplicate_name_names_both_plugins(make_dist, example_plugin) -> None:  # type: ignore[no-untyped-def]
    make_dist("impostor-plugin", "tlcore_impostor", BACKBONE_NAMED_TIMM)
    with pytest.raises(DuplicateComponentError) as error:
        registry("backbone")
    message = str(error.value)
    assert "plugin 'timm' (tlcore)" in message and "plugin 'tlcore_impostor' (impostor-plugin)" in message


def test_misspelt_hook_is_a_reported_failure(make_dist) -> None:  # type: ignore[no-untyped-def]
    make_dist("typo-plugin", "tlcore_typo",
              "from tlcore import hookimpl\n@hookimpl\ndef tlcore_register_backbone(register):\n    pass\n")
    with pytest.warns(PluginLoadWarning, match="tlcore_register_backbone"):
        _, failures = plugin_report()
    assert [f.distribution for f in failures] == ["typo-plugin"]


def test_hook_that_raises_is_reported_and_the_rest_register(make_dist) -> None:  # type: ignore[no-untyped-def]
    make_dist("raising-plugin", "tlcore_raising",
              "from tlcore import hookimpl\n@hookimpl\ndef tlcore_register_heads(register):\n"
              "    raise RuntimeError('kaput')\n")
    with pytest.warns(PluginLoadWarning, match="kaput"):
        assert "linear" in registry("head")


def test_registering_a_non_component_is_reported(make_dist) -> None:  # type: ignore[no-untyped-def]
    make_dist("wrong-plugin", "tlcore_wrong",
              "from tlcore import hookimpl\n@hookimpl\ndef tlcore_register_heads(register):\n"
              "    register(dict)\n")
    with pytest.warns(PluginLoadWarning, match="does not subclass tlcore.head.Head"):
        assert "mlp" in registry("head")


def test_autoload_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLCORE_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert len(registry("backbone")) == 0
    import tlcore_heads

    register_plugin(tlcore_heads, "my_heads")
    assert registry("head").get("linear").plugin == "my_heads"


def test_named_plugins_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLCORE_DISABLE_PLUGINS", "torchvision, strategies")
    assert "torchvision" not in registry("backbone")
    assert "timm" in registry("backbone")
    assert len(registry("policy")) == 0


def test_unknown_name_lists_close_matches_and_what_is_installed() -> None:
    with pytest.raises(UnknownComponentError) as error:
        registry("backbone").get("timmm")
    assert "Did you mean: timm?" in str(error.value)
    assert "Installed backbones: timm, torchvision" in str(error.value)


def test_in_process_plugin_object() -> None:
    from tlcore_heads import LinearHead

    from tlcore import hookimpl

    class Renamed(LinearHead):
        name = "renamed"

    plugin = types.SimpleNamespace()
    plugin.tlcore_register_heads = hookimpl(lambda register: register(Renamed))
    with pytest.warns(PluginLoadWarning, match="Literal\\['renamed'\\]"):
        register_plugin(plugin, "notebook")
        assert "renamed" not in registry("head")
