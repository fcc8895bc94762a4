"""Configuration: one YAML file → typed frozen dataclasses, checked as a whole.

``settings`` holds the config (data, train and the whole ``Config``), ``load_config`` and the checks
across keys; ``model`` the ``model`` section (embedding → encoder → decoder); ``typecheck`` how YAML
values become typed fields (bounds, choices, overrides, "did you mean").

The names below are the public API: ``from seqlab.config import Config, load_config``.
"""
from seqlab.config.settings import CharConfig, Config, DataConfig, DecoderConfig, EmbeddingConfig, EncoderConfig, ModelConfig, TrainConfig, TransformerConfig  # noqa: E501, I001
from seqlab.config.settings import config_from_dict, dump_config, load_config

__all__ = [
    "CharConfig", "Config", "DataConfig", "DecoderConfig", "EmbeddingConfig", "EncoderConfig", "ModelConfig", "TrainConfig",
    "TransformerConfig", "config_from_dict", "dump_config", "load_config",
]
