"""Where a local judge's weights are, and loading them with ``from_pretrained``.

A judge spec is a model folder or hub id, a ``.gguf`` file, or a folder holding one GGUF
file and no ``config.json``. Many people keep local judges as GGUF (llama.cpp's format);
transformers reads them through ``gguf_file=`` (with the ``gguf`` package), dequantising the
weights to ``dtype``, so a GGUF judge then runs like any other transformers model.
"""

from __future__ import annotations

import functools
import importlib
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import is_gguf_available

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


def load_pretrained(spec: str, *, dtype: Any, device_map: str | None,
                    trust_remote_code: bool) -> tuple[Any, Any]:
    """The tokenizer and the causal LM a judge spec names.

    A plain folder's or hub id's errors (OSError, ValueError) are left to the caller, which
    words them; a GGUF file's are worded here, as the file exists and is the problem."""
    folder, gguf_file = locate(spec)
    options: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if gguf_file is None:
        tokenizer = AutoTokenizer.from_pretrained(folder, **options)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, device_map=device_map,
                                                     **options)
        return tokenizer, model
    # Checked here rather than left to transformers, whose ImportError is a paragraph; the
    # same check (installed and at least transformers' minimum version) it makes itself.
    if not is_gguf_available():
        raise JudgeLoadError(f"loading the GGUF judge '{spec}' needs the 'gguf' package "
                             '(0.10 or later); pip install "judgecli[gguf]"')
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file, **options)
        with _no_dequantising_bar():
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file,
                                                         dtype=dtype, device_map=device_map,
                                                         **options)
    # A truncated file fails in gguf's reader with struct.error; an architecture transformers
    # cannot convert, with ValueError.
    except (OSError, ValueError, KeyError, struct.error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JudgeLoadError(f"cannot load the GGUF judge '{spec}' ({first})") from None
    return tokenizer, model


@contextmanager
def _no_dequantising_bar() -> Iterator[None]:
    """transformers draws its "de-quantizing GGUF tensors" bar with tqdm itself, not through
    the logging switch that quiets its other bars, and judgecli's stderr is for its own
    messages. Where a later transformers draws it elsewhere, the bar merely shows."""
    module = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    bar = getattr(module, "tqdm", None)
    if bar is None:
        yield
        return
    with mock.patch.object(module, "tqdm", functools.partial(bar, disable=True)):
        yield
