"""Judging options from a project config and the environment, so that a pipeline names its
judge once (issue 26 item 0).

Precedence, per option: the command line, then the config, then the environment, then the
option's default. The config is the nearest ``judgecli.toml`` (its top-level keys) or
``pyproject.toml`` with a ``[tool.judgecli]`` table, looking from the working directory up,
as ruff and pytest find theirs; keys are the long option names (``judge``, ``template``,
``max-cost`` or ``max_cost``, ...). The environment: ``JUDGECLI_<NAME>`` (``JUDGECLI_JUDGE``,
``JUDGECLI_MAX_COST``; lists split on commas). A local judge folder named in a config is
taken relative to the config's folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from ..errors import JudgecliError

PREFIX = "JUDGECLI_"
# Variables that already mean something of their own: $JUDGECLI_CACHE_DIR is read by the API
# judge itself (where replies are cached), and so is not an option given.
OWN_MEANING = ("cache_dir",)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Found:
    """An option's value and where it came from (``judgecli.toml``, ``$JUDGECLI_JUDGE``)."""

    value: Any
    origin: str


def find_config(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The nearest config file from ``start`` (the working directory) up, and its table."""
    folder = (start or Path.cwd()).resolve()
    for here in (folder, *folder.parents):
        own = here / "judgecli.toml"
        if own.is_file():
            return own, _read(own)
        project = here / "pyproject.toml"
        if project.is_file():
            table = _read(project).get("tool", {}).get("judgecli")
            if table is not None:
                if not isinstance(table, dict):
                    raise JudgecliError(f"{project}: [tool.judgecli] must be a table")
                return project, table
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise JudgecliError(f"{path}: not a valid TOML file ({exc})") from None


def settings(names: dict[str, type], *, start: Path | None = None,
             environ: dict[str, str] | None = None) -> dict[str, Found]:
    """The values the config and the environment give the options ``names`` (name ->
    the type of its value: str, int, float, bool or list), config first."""
    environ = os.environ if environ is None else environ
    out: dict[str, Found] = {}
    for name, kind in names.items():
        if name in OWN_MEANING:
            continue
        raw = environ.get(PREFIX + name.upper())
        if raw is not None and raw != "":
            out[name] = Found(_from_text(raw, kind, f"${PREFIX}{name.upper()}"),
                              f"${PREFIX}{name.upper()}")
    config = find_config(start)
    if config is not None:
        path, table = config
        for key, value in table.items():
            name = key.replace("-", "_")
            if name not in names:
                raise JudgecliError(f"{path}: '{key}' is not a judging option; known: "
                                    f"{', '.join(sorted(n.replace('_', '-') for n in names))}")
            value = _checked(value, names[name], f"{path}: '{key}'")
            if name == "judge":
                value = [_beside(spec, path.parent) for spec in value]
            out[name] = Found(value, os.path.relpath(path))
    return out


def _from_text(raw: str, kind: type, where: str) -> Any:
    if kind is list:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if kind is bool:
        if raw.strip().lower() in TRUE + FALSE:
            return raw.strip().lower() in TRUE
        raise JudgecliError(f"{where} must be true or false, not '{raw}'")
    return _checked(raw, kind, where)


def _checked(value: Any, kind: type, where: str) -> Any:
    """``value`` as an option of type ``kind`` takes it, or a one-line error."""
    if kind is list:
        value = [value] if isinstance(value, str) else value
        if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            return value
        raise JudgecliError(f"{where} must be a string or a list of strings")
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise JudgecliError(f"{where} must be true or false")
    if kind in (int, float):
        try:
            if isinstance(value, bool) or (kind is int and isinstance(value, float)):
                raise ValueError
            return kind(value)
        except (TypeError, ValueError):
            raise JudgecliError(f"{where} must be a number ({kind.__name__}), not "
                                f"{value!r}") from None
    if isinstance(value, str) and value:
        return value
    raise JudgecliError(f"{where} must be a non-empty string")


def _beside(spec: str, folder: Path) -> str:
    """A judge folder or file named in a config is relative to the config's folder."""
    if ":" in spec.split("/")[0] and not spec.lower().endswith(".gguf"):
        return spec  # openai:MODEL, hf:PATH
    near = folder / spec
    return os.path.normpath(near) if not os.path.isabs(spec) and near.exists() else spec


def no_judge(what: str = "") -> str:
    """The error of a judging command given no judge: the ways to name one."""
    return (f"no judge{what}: give --judge MODEL (a model folder, a hub id, hf:PATH, a "
            ".gguf file or openai:MODEL), set $JUDGECLI_JUDGE, or put judge = \"MODEL\" in "
            "judgecli.toml or under [tool.judgecli] in pyproject.toml; to try judgecli, "
            "its repository's examples/demo-judge")
