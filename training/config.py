"""Config machinery shared by the project's trainers (`training.train`, `finetune.train`).

A trainer's config is a dataclass of sections, each a dataclass of fields with help text
(`opt`); `SECTIONS` maps a section's name to its class. Values come from the defaults,
then a YAML file of `section: {key: value}` (`load_yaml`), then `--section.key VALUE`
flags (`add_section_flags` + `apply_overrides`), each coerced to the field's type. Bad
input is a `ConfigError`: one line that names the closest known section, key or flag.

    SECTIONS = {"model": ModelArgs, "train": TrainArgs}
    parser = OneLineParser(prog="python -m x.train")
    add_section_flags(parser, SECTIONS)
    args = parser.parse_args()
    cfg = Config()
    load_yaml(cfg, SECTIONS, args.config)
    apply_overrides(cfg, SECTIONS, args.overrides)
    check_choices(cfg, {"train.precision": ("auto", "bf16", "fp32")})
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import difflib
import os
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

Sections = Mapping[str, type]


class ConfigError(ValueError):
    """Bad input: reported as one line, exit status 2."""


def opt(default: Any, help: str) -> Any:
    """A dataclass field with help text (immutable defaults only)."""
    return dataclasses.field(default=default, metadata={"help": help})


def closest(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest of `choices`, or an empty string."""
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def coerce(value: Any, hint: Any, key: str) -> Any:
    """`value` (from YAML or a flag) as the field's type, or a ConfigError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        return coerce(value, next(a for a in args if a is not type(None)), key)
    bad = ConfigError(f"{key}: expected {getattr(hint, '__name__', hint)}, got {value!r}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad
    if hint is float:
        if isinstance(value, bool):
            raise bad
        try:  # YAML reads 3e-4 (no dot) as a string
            return float(value)
        except (TypeError, ValueError):
            raise bad from None
    if hint is str:
        if isinstance(value, dt.date):  # YAML reads 2024-01-31 as a date
            return value.isoformat()
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad
    if origin is list:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise bad
        return [coerce(v, args[0], key) for v in items]
    if hint is dict or origin is dict:
        if isinstance(value, dict):
            return dict(value)
        raise bad
    raise AssertionError(f"no coercion for {hint}")  # a field type this module lacks


def set_field(cfg: Any, sections: Sections, dotted: str, value: Any, source: str) -> None:
    """cfg.<section>.<key> = value, checked and coerced to the field's type."""
    section, _, key = dotted.partition(".")
    if section not in sections:
        raise ConfigError(
            f"{source}: unknown section {section!r}{closest(section, sections)}; "
            f"sections: {', '.join(sections)}"
        )
    hints = typing.get_type_hints(sections[section])
    if key not in hints:
        raise ConfigError(
            f"{source}: unknown key {dotted!r}{closest(key, hints)}; "
            f"{section} has {', '.join(hints)}"
        )
    setattr(getattr(cfg, section), key, coerce(value, hints[key], dotted))


def load_yaml(cfg: Any, sections: Sections, path: Path) -> None:
    """Apply a YAML file of `section: {key: value}` to `cfg`."""
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {' '.join(str(e).split())}") from None
    if tree is None:
        return
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: expected sections ({', '.join(sections)}) at the top")
    for section, values in tree.items():
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: {section} must be a mapping of keys to values")
        for key, value in values.items():
            set_field(cfg, sections, f"{section}.{key}", value, str(path))


def apply_overrides(cfg: Any, sections: Sections, overrides: Iterable[tuple[str, str]]) -> None:
    """`--section.key VALUE` flags, in order; VALUE is read as YAML (`3e-4`, `[a, b]`)."""
    for dotted, raw in overrides:
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        set_field(cfg, sections, dotted, value, f"--{dotted}")


def _value(cfg: Any, dotted: str) -> Any:
    section, _, name = dotted.partition(".")
    return getattr(getattr(cfg, section), name)


def check_choices(cfg: Any, choices: Mapping[str, tuple[str, ...]]) -> None:
    """Each `section.key` holds one of its allowed values."""
    for key, allowed in choices.items():
        value = _value(cfg, key)
        if value not in allowed:
            raise ConfigError(f"{key}={value!r}: choose one of {', '.join(allowed)}")


def check_at_least(cfg: Any, minimums: Mapping[str, int]) -> None:
    """Each `section.key` (when set) is at least its minimum."""
    for key, low in minimums.items():
        value = _value(cfg, key)
        if value is not None and value < low:
            raise ConfigError(f"{key}={value}: must be at least {low}")


class OverrideAction(argparse.Action):
    """`--section.key VALUE`: collected, in order, into args.overrides."""

    def __init__(self, option_strings: list[str], dest: str, key: str = "", **kwargs: Any):
        super().__init__(option_strings, dest, **kwargs)
        self.key = key

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.overrides = [*(getattr(namespace, "overrides", None) or []), (self.key, values)]


class OneLineParser(argparse.ArgumentParser):
    """argparse with one-line errors that name the closest flag (no usage dump), and no
    abbreviated flags (a typo is never silently taken for a longer flag)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> typing.NoReturn:
        hint = ""
        if message.startswith("unrecognized arguments:"):
            flags = [a for a in message.split(":", 1)[1].split() if a.startswith("--")]
            if flags:
                known = [o for a in self._actions for o in a.option_strings]
                hint = closest(flags[0], known)
        self.exit(2, f"error: {' '.join(message.split())}{hint}\n")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_log_level(
    parser: argparse.ArgumentParser, default: str = "INFO", flag: str = "--log_level"
) -> None:
    """The scripts' verbosity flag: one of LOG_LEVELS, any case, LOG_LEVEL in the
    environment when the flag is not given."""
    parser.add_argument(
        flag,
        default=os.environ.get("LOG_LEVEL", default),
        type=str.upper,
        choices=LOG_LEVELS,
        help="verbosity (also the LOG_LEVEL environment variable)",
    )


def add_section_flags(parser: argparse.ArgumentParser, sections: Sections) -> None:
    """One `--section.key VALUE` flag per config field, grouped by section."""
    parser.set_defaults(overrides=[])
    for section, cls in sections.items():
        group = parser.add_argument_group(f"{section} (config section)")
        for f in dataclasses.fields(cls):
            default = f.default_factory() if callable(f.default_factory) else f.default
            group.add_argument(
                f"--{section}.{f.name}",
                action=OverrideAction,
                key=f"{section}.{f.name}",
                dest=f"_{section}_{f.name}",
                metavar="VALUE",
                default=argparse.SUPPRESS,
                help=f"{f.metadata.get('help', '')} (default: {default!r})",
            )
