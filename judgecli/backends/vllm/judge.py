"""A local judge run by vLLM's offline engine (``--judge vllm:MODEL``).

The same judge as the transformers backend, on a faster engine: the prompt is rendered and
tokenized by the judge's own tokenizer exactly as there (``hf.prompting``), and vLLM is
given the token ids, so both engines see the same prompt.

* explain mode: ``LLM.generate`` with greedy decoding (temperature 0) up to
  ``--max-new-tokens``; the text is the new tokens decoded as the transformers judge does.
* score mode: the same restricted greedy decoding over the template's canonical score lines
  (``hf.score_lines``), one token a step: each step asks vLLM for one token of every row
  still writing, with the log-probabilities of exactly the tokens the line may go on with
  (``SamplingParams.logprob_token_ids``); their softmax is the restricted distribution the
  transformers judge computes from its logits (a log-softmax differs from the logits by a
  constant per row), so the same tokens are chosen and the same probabilities reported.
  The rows' earlier tokens are not computed again: vLLM's prefix cache keeps them.

vLLM 0.32.0 (vllm-project/vllm, ``vllm/entrypoints/llm.py`` ``LLM``, ``vllm/sampling_params.py``
``SamplingParams.logprob_token_ids``, ``vllm/v1/sample/sampler.py``: log-probabilities of the
raw logits by default).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ...errors import JudgeLoadError
from ..base import Completion, Judge, Request
from ..hf.paths import locate
from ..hf.prompting import LocalPrompts
from ..hf.score_lines import RowState

# vllm/sampling_params.py MAX_LOGPROB_TOKEN_IDS: the most tokens one step may ask about.
MAX_ALLOWED = 128
PREFERRED_BATCH = 256  # requests handed over at once: vLLM schedules them itself


def _quiet_vllm() -> None:
    """vLLM logs at INFO to stdout, where judgecli writes its JSONL: errors only, on
    stderr, unless the environment says otherwise (set before vllm is imported; its
    engine processes inherit it)."""
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")


def _all_cores() -> None:
    """On a CPU, the engine in this process on every core, unless the environment says
    otherwise. By default vLLM runs its engine in a process of its own and keeps a core
    (``VLLM_CPU_NUM_OF_RESERVED_CPU``) for the process that feeds it; judgecli's process
    only waits while the engine works, so that core would idle: 64 prompts of ~480 tokens,
    64 tokens each, took 12.0 s so and 6.8 s in one process on both cores (2-core CPU)."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")


class VLLMJudge(LocalPrompts, Judge):
    supports_score_mode = True

    def __init__(self, model: str, *, batch_size: int | None = None,
                 tensor_parallel: int | None = None, data_parallel: int | None = None,
                 gpu_memory: float | None = None, dtype: str | None = None,
                 vllm_args: dict[str, Any] | None = None, trust_remote_code: bool = False,
                 base_model: str | None = None, **_: Any) -> None:
        if base_model:
            raise JudgeLoadError("--base-model: only for a transformers judge, not "
                                 f"'vllm:{model}'")
        self.name = f"vllm:{model}"
        folder, gguf_file = locate(model)
        if gguf_file is not None:
            raise JudgeLoadError(f"'{model}' is a GGUF judge, which vLLM does not load on every "
                                 f"device; use --judge {model} (the transformers backend)")
        _quiet_vllm()
        from transformers import AutoConfig, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
            config = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise JudgeLoadError(f"cannot load judge '{model}': not a local model folder, and "
                                 f"not in the hub cache or reachable ({first})") from None
        self.init_prompts(tokenizer, config)
        self.batch_size = batch_size
        self.replicas = None
        if data_parallel and data_parallel > 1:
            from .replicas import Replicas

            self.replicas = Replicas(type(self), model, data_parallel, {
                "batch_size": batch_size, "tensor_parallel": tensor_parallel,
                "gpu_memory": gpu_memory, "dtype": dtype, "vllm_args": vllm_args,
                "trust_remote_code": trust_remote_code})
            return
        from vllm import LLM
        from vllm.platforms import current_platform

        self.cpu = current_platform.is_cpu()
        if self.cpu:
            _all_cores()
        # The transformers judge's precision: float32 on a CPU, bfloat16 on a GPU.
        options: dict[str, Any] = {
            "dtype": dtype or ("float32" if self.cpu else "bfloat16"),
            "tensor_parallel_size": tensor_parallel or 1,
            "max_logprobs": MAX_ALLOWED, "seed": 0, "trust_remote_code": trust_remote_code}
        if gpu_memory is not None:
            options["gpu_memory_utilization"] = gpu_memory
        if batch_size is not None:
            options["max_num_seqs"] = batch_size
        options.update(vllm_args or {})
        try:
            self.llm = LLM(model=folder, tokenizer=folder, **options)
        except (TypeError, ValueError) as exc:  # an unknown or bad engine argument
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise JudgeLoadError(f"vLLM cannot start judge '{model}' ({first})") from None

    def preferred_batch(self) -> int:
        replicas = len(self.replicas.links) if self.replicas is not None else 1
        return (self.batch_size or PREFERRED_BATCH) * replicas

    def close(self) -> None:
        if self.replicas is not None:
            self.replicas.close()
        llm = self.__dict__.pop("llm", None)
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()  # the engine's processes, now rather than at exit

    # -- judging -----------------------------------------------------------------------------
    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        if self.replicas is not None:
            return self.replicas.complete(requests)
        encoded = [self.encode(r) for r in requests]
        results: list[Completion | None] = [
            self.refusal(r, self.room(r, ids)) for r, ids in zip(requests, encoded, strict=True)]
        try:
            for score in (True, False):
                rows = [i for i, r in enumerate(requests)
                        if results[i] is None and (r.score_line is not None) == score]
                if not rows:
                    continue
                done = self._score([encoded[i] for i in rows], [requests[i] for i in rows]) \
                    if score else self._generate([encoded[i] for i in rows],
                                                 [requests[i] for i in rows])
                for i, completion in zip(rows, done, strict=True):
                    results[i] = completion
        except KeyboardInterrupt as stop:
            stop.completions = results  # type: ignore[attr-defined]
            raise
        return [r for r in results if r is not None]

    def _run(self, prompts: list[list[int]], params: list[Any]) -> list[Any]:
        return self.llm.generate([{"prompt_token_ids": ids} for ids in prompts], params,
                                 use_tqdm=False)

    def _generate(self, prompts: list[list[int]], requests: list[Request]) -> list[Completion]:
        """Greedy decoding, as ``TransformersJudge._generate``; the new tokens decoded by the
        judge's tokenizer without special tokens."""
        from vllm import SamplingParams

        params = [SamplingParams(temperature=0.0, max_tokens=r.max_new_tokens,
                                 detokenize=False) for r in requests]
        out = []
        for ids, reply in zip(prompts, self._run(prompts, params), strict=True):
            tokens = list(reply.outputs[0].token_ids)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            out.append(Completion(text=text.strip(), usage={
                "prompt_tokens": len(ids), "completion_tokens": len(tokens)}))
        return out

    def _score(self, prompts: list[list[int]], requests: list[Request]) -> list[Completion]:
        """Restricted greedy decoding of each row's score line, one token a step."""
        import torch
        from vllm import SamplingParams

        rows = [RowState(self.trie(r, ids)) for r, ids in zip(requests, prompts, strict=True)]
        # Token healing, as the transformers judge: the tokens a line takes back from the
        # prompt's end are decoded as the line's first tokens.
        heads = [ids[:len(ids) - state.trie.back] for ids, state in zip(prompts, rows)]
        while True:
            active = [i for i, state in enumerate(rows) if not state.finished]
            if not active:
                break
            allowed = {i: rows[i].allowed() for i in active}
            # A token that is the only one allowed has probability 1 whatever the logits:
            # taken without asking the engine.
            for i in [i for i in active if len(allowed[i]) == 1]:
                rows[i].step(torch.zeros(1), {allowed[i][0]: 0})
            active = [i for i in active if len(allowed[i]) > 1]
            if not active:
                continue
            wide = next((i for i in active if len(allowed[i]) > MAX_ALLOWED), None)
            if wide is not None:
                raise JudgeLoadError(
                    f"the score line may go on with {len(allowed[wide])} tokens at one step, "
                    f"more than vLLM reports ({MAX_ALLOWED}); use --mode explain")
            params = [SamplingParams(temperature=0.0, max_tokens=1, detokenize=False,
                                     logprob_token_ids=allowed[i]) for i in active]
            replies = self._run([heads[i] + rows[i].tokens for i in active], params)
            for i, reply in zip(active, replies, strict=True):
                logprobs = reply.outputs[0].logprobs[0]
                values = torch.tensor([logprobs[t].logprob for t in allowed[i]])
                rows[i].step(values, {t: k for k, t in enumerate(allowed[i])})
        results = []
        for ids, r, state in zip(prompts, requests, rows, strict=True):
            line = r.score_line
            assert line is not None
            text = line.prefix + line.sep.join(state.values) + line.end
            results.append(Completion(text=text.strip(), slot_probs=state.distributions(),
                                      usage={"prompt_tokens": len(ids),
                                             "completion_tokens": state.steps}))
        return results
