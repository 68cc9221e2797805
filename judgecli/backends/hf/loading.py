"""Where a local judge's weights are, and loading them with ``from_pretrained``.

A judge spec is a model folder or hub id, a ``.gguf`` file, or a folder holding one GGUF
file and no ``config.json``. Many people keep local judges as GGUF (llama.cpp's format);
transformers reads them through ``gguf_file=`` (with the ``gguf`` package), dequantising the
weights to ``dtype``, so a GGUF judge then runs like any other transformers model.
"""

from __future__ import annotations

import functools
import importlib
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import is_gguf_available

from ...errors import JudgeLoadError
from .paths import locate


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
