"""A trainer's whole config, on top of `training.config`'s machinery: `SectionedConfig` is
the base of a trainer's `Config` dataclass, whose fields are its sections (`sections()`
maps each name to its dataclass, what `training.config` calls SECTIONS), and does what every
trainer does the same way with them: `set_field` and `load_yaml` bound to those sections,
`to_dict`, and `apply_args`, which takes the `--config` YAML file, then the
`--SECTION.KEY VALUE` flags, then `--max_steps`. `training.train_config` and
`finetune.train_config` build their configs on it; each adds its own flags and checks.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path
from typing import Any

from training import config as _config


class SectionedConfig:
    """Base of a trainer's top-level config dataclass: each field is a section (a dataclass
    of fields made with `training.config.opt`), in the order the config lists them."""

    @classmethod
    def sections(cls) -> dict[str, type]:
        """Section name -> its dataclass, in field order."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def set_field(self, dotted: str, value: Any, source: str = "config") -> None:
        """self.<section>.<key> = value, checked and coerced to the field's type."""
        _config.set_field(self, self.sections(), dotted, value, source)

    def load_yaml(self, path: Path) -> None:
        """Apply a YAML file of `section: {key: value}` to this config."""
        _config.load_yaml(self, self.sections(), path)

    def apply_args(self, args: argparse.Namespace) -> None:
        """`args.config` (a YAML file, when given), then the `--SECTION.KEY VALUE` flags in
        order, then `--max_steps` (`train.max_steps`)."""
        if args.config is not None:
            self.load_yaml(args.config)
        _config.apply_overrides(self, self.sections(), getattr(args, "overrides", None) or [])
        if args.max_steps is not None:
            self.set_field("train.max_steps", args.max_steps, "--max_steps")
