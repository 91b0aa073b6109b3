"""Configs: components selected by name, field-level errors, YAML loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlcore.config import ExperimentConfig, load_config
from tlcore.errors import ConfigError

BASE = {"backbone": {"name": "timm", "model": "test_resnet", "pretrained": False}, "num_classes": 3}


def test_components_resolve_to_their_plugin_config_classes() -> None:
    config = load_config(BASE)
    assert type(config.backbone).__name__ == "TimmBackboneConfig"
    assert config.head.name == "linear" and config.policy.name == "recipe"
    dumped = config.model_dump(mode="json")
    assert dumped["backbone"]["model"] == "test_resnet"
    assert load_config(dumped) == config


def test_bad_field_is_located_by_its_dotted_path() -> None:
    with pytest.raises(ConfigError) as error:
        load_config({**BASE, "backbone": {**BASE["backbone"], "in_chans": 2}})
    assert "backbone.in_chans: Input should be 1 or 3 (got 2)" in str(error.value)


def test_unknown_backbone_name_lists_close_matches() -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"backbone": {"name": "torchvison", "model": "resnet18"}})
    assert "backbone.name: unknown backbone 'torchvison'. Did you mean: torchvision?" in str(error.value)


def test_unknown_timm_model_suggests_close_names() -> None:
    with pytest.raises(ConfigError, match=r"backbone.model: .*unknown timm model 'resnt18'.*resnet18"):
        load_config({"backbone": {"name": "timm", "model": "resnt18"}})


def test_unknown_key_gets_did_you_mean() -> None:
    with pytest.raises(ConfigError) as error:
        load_config({**BASE, "head": {"name": "mlp", "hiden": [8]}})
    assert "head.hiden: unknown key. Did you mean: hidden?" in str(error.value)
    with pytest.raises(ConfigError, match=r"trainer.epohcs: unknown key. Did you mean: epochs\?"):
        load_config({**BASE, "trainer": {"epohcs": 3}})


def test_yaml_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text("backbone:\n  name: timm\n  model: test_vit\n  pretrained: false\nhead: mlp\n")
    config = load_config(path, overrides={"trainer.epochs": 2, "head.hidden": [16], "num_classes": 4})
    assert (config.trainer.epochs, config.head.hidden, config.num_classes) == (2, [16], 4)  # type: ignore[attr-defined]


def test_yaml_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("backbone: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not valid YAML"):
        load_config(bad)
    bad.write_text("backbone:\n  name: timm\n  model: test_vit\ntrainer:\n  lr: -1\n")
    with pytest.raises(ConfigError, match=r"in .*bad.yaml:\n  trainer.lr: Input should be greater than 0"):
        load_config(bad)


def test_every_config_field_has_a_description() -> None:
    from tlcore_strategies.gradual import UnfreezePhase

    from tlcore.config import DataSourceConfig, TrainerConfig
    from tlcore.plugins import registry

    models = [ExperimentConfig, TrainerConfig, DataSourceConfig, UnfreezePhase]
    models += [r.config_class for kind in ("backbone", "head", "policy", "image_reader") for r in registry(kind)]
    for model in models:
        for field_name, field in model.model_fields.items():  # type: ignore[union-attr]
            assert field.description, f"{model.__name__}.{field_name} has no description"
