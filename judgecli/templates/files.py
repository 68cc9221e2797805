"""Template files: where the bundled ones are, reading one, a template's ``base``, and the
bundled rubrics (``prompts/rubrics/NAME.txt``) a ``bind`` may name."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import TemplateError


def bundled_dir() -> Path:
    # Installed: judgecli/prompts (package data). Source checkout: the repository's prompts/.
    packaged = resources.files("judgecli") / "prompts"
    if packaged.is_dir():
        return Path(str(packaged))
    source = Path(__file__).resolve().parents[2] / "prompts"
    if source.is_dir():
        return source
    raise TemplateError("the bundled templates are missing from this installation")


def available() -> list[str]:
    """Names of the bundled templates."""
    return sorted(p.stem for p in bundled_dir().glob("*.json"))


def bundled_path(name: str) -> Path | None:
    path = bundled_dir() / f"{name}.json"
    return path if path.exists() else None


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such template file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TemplateError(f"{path}: not a valid JSON template ({exc})") from None


def with_base(data: dict[str, Any], path: str, depth: int = 0) -> dict[str, Any]:
    """``data`` on top of its ``base`` template's keys (``bind`` entries added to the base's)."""
    base = data["base"]
    if not isinstance(base, str) or not base:
        raise TemplateError(f"{path}: 'base' must name a template")
    if depth > 4:
        raise TemplateError(f"{path}: 'base' goes more than 4 templates deep")
    here = Path(path).parent / base
    where = here if here.suffix == ".json" and here.exists() else bundled_path(base)
    if where is None:
        raise TemplateError(f"{path}: 'base' {base!r} is neither a bundled template nor a "
                            "file beside this one")
    below = read_json(where)
    if isinstance(below, dict) and "base" in below:
        below = with_base(below, str(where), depth + 1)
    if not isinstance(below, dict):
        raise TemplateError(f"{where}: a template is a JSON object")
    own = {k: v for k, v in data.items() if k != "base"}
    bind = {**below.get("bind", {}), **own.get("bind", {})} \
        if isinstance(below.get("bind", {}), dict) and isinstance(own.get("bind", {}), dict) \
        else own.get("bind")
    merged = {**below, **own}
    if bind:
        merged["bind"] = bind
    return merged


def read_rubric(name: Any) -> str:
    """A bundled rubric's text: ``prompts/rubrics/NAME.txt`` exactly as stored."""
    folder = bundled_dir() / "rubrics"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name) or \
            not (folder / f"{name}.txt").is_file():
        names = sorted(p.stem for p in folder.glob("*.txt"))
        raise ValueError(f"names no bundled rubric ({name!r}); bundled: {', '.join(names)}")
    return (folder / f"{name}.txt").read_text(encoding="utf-8")
