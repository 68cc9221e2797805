"""Where a local judge is: a model folder or hub id, a ``.gguf`` file, or a folder holding
one GGUF file. Checked without importing transformers, so that a mistyped judge is named
before anything else is said or loaded."""

from __future__ import annotations

import os

from ...errors import JudgeLoadError

GGUF = ".gguf"


def locate(spec: str) -> tuple[str, str | None]:
    """``(what from_pretrained takes, the GGUF file's name in it or None)``."""
    if spec.lower().endswith(GGUF) and not os.path.isdir(spec):
        if not os.path.isfile(spec):
            raise JudgeLoadError(f"no GGUF file '{spec}'")
        folder, name = os.path.split(os.path.abspath(spec))
        return folder, name
    if not os.path.exists(spec):
        if _looks_local(spec):
            raise JudgeLoadError(f"no such judge folder '{spec}'{_did_you_mean(spec)}")
        return spec, None  # a hub id
    # A folder with config.json is a transformers checkpoint even if GGUF copies sit beside
    # it: the checkpoint is what its config describes.
    if not os.path.isdir(spec) or os.path.isfile(os.path.join(spec, "config.json")):
        return spec, None
    found = sorted(f for f in os.listdir(spec)
                   if f.lower().endswith(GGUF) and os.path.isfile(os.path.join(spec, f)))
    if len(found) > 1:
        raise JudgeLoadError(f"'{spec}' holds {len(found)} GGUF files ({', '.join(found)}); "
                             f"name one, e.g. --judge {os.path.join(spec, found[0])}")
    if not found:
        raise JudgeLoadError(
            f"'{spec}' holds no judge: a judge folder holds what save_pretrained writes "
            "(config.json, the weights as *.safetensors or *.bin, and the tokenizer: "
            "tokenizer.json or tokenizer.model with tokenizer_config.json), or one .gguf file")
    return spec, found[0]


def _looks_local(spec: str) -> bool:
    """A spec that cannot be a hub id ("org/name") is a local path: one that starts like a
    path, has more than one folder in it, or whose first part is a folder here (a mistyped
    "examples/demo-judg" would otherwise be looked up on the hub, with a minute of retries
    offline)."""
    if spec.startswith((".", "/", "~")) or os.sep in spec.replace("/", "") or \
            spec.count("/") != 1:
        return True
    return os.path.isdir(spec.split("/", 1)[0])


def _did_you_mean(spec: str) -> str:
    import difflib

    parent = os.path.dirname(spec) or "."
    if not os.path.isdir(parent):
        return f" (no folder '{parent}' either)"
    names = [os.path.join(os.path.dirname(spec), n) for n in os.listdir(parent)]
    close = difflib.get_close_matches(spec, names, n=1, cutoff=0.8)
    return f"; did you mean '{close[0]}'?" if close else ""
