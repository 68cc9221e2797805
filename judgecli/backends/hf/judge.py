"""A local judge: any causal LM that transformers loads with ``from_pretrained``.

Two modes. ``explain`` generates the whole judgment greedily. ``score`` writes only the
template's score line (e.g. JudgeLM's "9 3"): one batched forward pass over the prompts,
then a few cached decoding steps in which each row may only take tokens that keep the line
in the template's format. The tokens chosen are exactly what greedy decoding restricted to
that format produces (``generate`` with the same allowed tokens picks the same ones), and
the restricted next-token distributions give each slot's value probabilities.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from transformers import AutoModelForCausalLM
from transformers.utils import logging as hf_logging

from ...errors import JudgeLoadError
from ..base import Completion, Judge, Request
from .loading import load_pretrained
from .prompting import LocalPrompts
from .score_lines import RowState

MAX_BATCH = 256  # prompts in one batch at most, whatever the memory


def _token_budget(model: Any, share: float = 0.5) -> int:
    """Prompt tokens one batch may hold on the GPUs the model is on: ``share`` of their free
    memory (after loading) over what a token costs there: its key/value cache in every
    layer (kept through the score line's decoding) plus one layer's activations (SDPA keeps
    no attention matrix; the head runs on the last position only)."""
    config = model.config
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    size = next(model.parameters()).element_size()
    cache = 2 * config.num_hidden_layers * kv_heads * head_dim * size
    activations = (4 * config.hidden_size + 3 * config.intermediate_size) * size
    devices = {p.device for p in model.parameters() if p.device.type == "cuda"}
    free = min(torch.cuda.mem_get_info(d)[0] for d in devices) * len(devices) if devices else 0
    return max(1024, int(share * free / (cache + activations)))


def _default_device() -> str:
    """cuda (all local GPUs through device_map="auto"), or under a data-parallel launcher
    (accelerate launch, torchrun) this process's own GPU; else the CPU."""
    if not torch.cuda.is_available():
        return "cpu"
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0') or 0)}"
    return "cuda"


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Loading prints progress bars and notices on stderr; judgecli's stderr is for its own
    one-line messages and its progress bar, so keep them quiet while loading."""
    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


class TransformersJudge(LocalPrompts, Judge):
    supports_score_mode = True

    def __init__(self, model: str, *, batch_size: int | None = None, device: str | None = None,
                 trust_remote_code: bool = False, base_model: str | None = None,
                 **_: Any) -> None:
        self.name = model
        self.device = device or _default_device()
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            with _quiet_transformers():
                self.tokenizer, self.model = load_pretrained(
                    model, dtype=dtype, trust_remote_code=trust_remote_code,
                    device_map="auto" if self.device == "cuda" else None)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise JudgeLoadError(f"cannot load judge '{model}': not a local model folder, and "
                                 f"not in the hub cache or reachable ({first})") from None
        if self.device != "cuda":
            self.model.to(self.device)
        self.model.eval()
        self.base_model = None
        if base_model:
            self.base_model = self._load_base(base_model, dtype, trust_remote_code)
        self.tokenizer.padding_side = "left"
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None \
                else 0
        # A GPU's batches are sized by tokens to its free memory (unless --batch-size says);
        # a CPU's are 8 prompts (compute-bound either way, so bigger ones only add padding).
        self.token_budget = None
        if batch_size is None and self.device.startswith("cuda"):
            self.token_budget = _token_budget(self.model)
        self.batch_size = batch_size or (MAX_BATCH if self.token_budget else 8)
        # transformers 5 names the key/value cache argument ``cache`` (``past_key_values``
        # is deprecated, removed in 5.40); remote-code models may still take the old name.
        params = inspect.signature(self.model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self.init_prompts(self.tokenizer, self.model.config)

    def preferred_batch(self) -> int:
        """Prompts per batch, for sizing the runner's windows: with a token budget, how many
        typical (512-token) prompts fit in it."""
        if self.token_budget:
            return max(1, min(MAX_BATCH, self.token_budget // 512))
        return self.batch_size

    def _load_base(self, name: str, dtype: Any, trust_remote_code: bool) -> Any:
        try:
            with _quiet_transformers():
                base = AutoModelForCausalLM.from_pretrained(
                    name, dtype=dtype, trust_remote_code=trust_remote_code,
                    device_map="auto" if self.device == "cuda" else None)
        except (OSError, ValueError) as exc:
            raise JudgeLoadError(f"cannot load base model '{name}' ({exc})") from None
        if base.get_input_embeddings().weight.shape[0] < len(self.tokenizer):
            raise JudgeLoadError(f"base model '{name}' does not share the judge's vocabulary")
        return base.to(self.device).eval() if self.device != "cuda" else base.eval()

    def plan_batches(self, encoded: Sequence[list[int]],
                     new_tokens: Sequence[int] | None = None) -> list[list[int]]:
        """Indices of each batch: longest prompts first, so that padding is small and an
        out-of-memory error shows on the first batch; ``batch_size`` prompts at a time, and
        with a token budget no more than fit in it at the batch's (first, longest) width.
        ``new_tokens``: tokens each prompt may still grow by (explain mode's limit)."""
        width = [len(ids) + (new_tokens[i] if new_tokens else 0)
                 for i, ids in enumerate(encoded)]
        order = sorted(range(len(encoded)), key=lambda i: -width[i])
        batches, start = [], 0
        while start < len(order):
            size = self.batch_size
            if self.token_budget:
                size = max(1, min(size, self.token_budget // max(1, width[order[start]])))
            batches.append(order[start:start + size])
            start += size
        return batches

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        encoded = [self.encode(r) for r in requests]
        growth = [0 if r.score_line is not None else r.max_new_tokens for r in requests]
        # A prompt too long for the context window is that request's error, not a batch's.
        results: list[Completion | None] = [
            self.refusal(r, self.room(r, ids)) for r, ids in zip(requests, encoded, strict=True)]
        fits = [i for i, done in enumerate(results) if done is None]
        plan = self.plan_batches([encoded[i] for i in fits], [growth[i] for i in fits])
        pending = [[fits[k] for k in batch] for batch in plan]
        try:
            while pending:
                chunk, budget = pending.pop(0), self.token_budget
                for mode in ("score", "explain"):
                    rows = [i for i in chunk
                            if (requests[i].score_line is not None) == (mode == "score")]
                    if rows:
                        self._run(rows, encoded, growth, requests, mode, results)
                if self.token_budget != budget and pending:
                    # Out of memory: the batches still to run are planned again, smaller.
                    rest = [i for batch in pending for i in batch]
                    plan = self.plan_batches([encoded[i] for i in rest],
                                             [growth[i] for i in rest])
                    pending = [[rest[k] for k in batch] for batch in plan]
        except KeyboardInterrupt as stop:
            stop.completions = results  # type: ignore[attr-defined]  # the batches done
            raise
        return [r for r in results if r is not None]

    def _run(self, rows: list[int], encoded: Sequence[list[int]], growth: Sequence[int],
             requests: Sequence[Request], mode: str, results: list[Completion | None]) -> None:
        """One batch; out of GPU memory, its halves one after the other, and the token budget
        shrinks to half of what this batch held."""
        batch = [encoded[i] for i in rows]
        try:
            with torch.inference_mode():
                done = self._score(batch, [requests[i] for i in rows]) if mode == "score" \
                    else self._generate(batch, max(requests[i].max_new_tokens for i in rows))
        except torch.cuda.OutOfMemoryError:  # torch.OutOfMemoryError from torch 2.5 on
            if len(rows) == 1:
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            width = max(len(encoded[i]) + growth[i] for i in rows)  # as plan_batches counts
            if self.token_budget:
                self.token_budget = min(self.token_budget, width * len(rows) // 2)
            half = len(rows) // 2
            self._run(rows[:half], encoded, growth, requests, mode, results)
            self._run(rows[half:], encoded, growth, requests, mode, results)
            return
        for i, completion in zip(rows, done, strict=True):
            results[i] = completion

    def _pad(self, batch: list[list[int]], *, left: bool = True,
             ) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            span = slice(width - len(ids), width) if left else slice(0, len(ids))
            input_ids[row, span] = torch.tensor(ids, dtype=torch.long)
            mask[row, span] = 1
        return input_ids.to(self.model.device), mask.to(self.model.device)

    # -- explain mode ------------------------------------------------------------------------
    def _generate(self, batch: list[list[int]], max_new_tokens: int) -> list[Completion]:
        input_ids, mask = self._pad(batch)
        out = self.model.generate(input_ids=input_ids, attention_mask=mask, do_sample=False,
                                  max_new_tokens=max_new_tokens, pad_token_id=self.pad_id)
        new = out[:, input_ids.shape[1]:]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        return [Completion(text=t.strip(), usage={"prompt_tokens": len(ids),
                                                   "completion_tokens": int((n != self.pad_id).sum())})
                for t, ids, n in zip(texts, batch, new)]

    # -- score mode --------------------------------------------------------------------------
    def _score(self, prompts: list[list[int]], requests: list[Request]) -> list[Completion]:
        rows = [RowState(self.trie(r, ids)) for r, ids in zip(requests, prompts)]
        # Token healing: where the line merges with the prompt's last tokens, the prompt is
        # taken back to the tokens both share and the rest is decoded as part of the line.
        batch = [ids[:len(ids) - state.trie.back] for ids, state in zip(prompts, rows)]
        # Right padding: every prompt token keeps its position 0..n-1 with no per-row
        # position tensor (per-row rotary tables cost ~15% of a CPU forward), and only the
        # logits at each row's last prompt token are computed (logits_to_keep as indices).
        input_ids, mask = self._pad(batch, left=False)
        last = mask.sum(-1) - 1
        keep = torch.unique(last)
        out = self.model(input_ids=input_ids, attention_mask=mask, use_cache=True,
                         logits_to_keep=keep)
        cache = _cache_of(out)
        logits = out.logits[torch.arange(len(batch)), torch.searchsorted(keep, last)]
        while True:
            next_tokens = torch.full((len(rows),), self.pad_id, dtype=torch.long)
            active = [i for i, state in enumerate(rows) if not state.finished]
            if not active:
                break
            # One gather of the tokens any row may take next and one copy of it to the host,
            # not a gather and a sync per row (nor the whole vocabulary's logits).
            columns = sorted({t for i in active for t in rows[i].allowed()})
            host = logits[:, columns].float().cpu()
            at = {token: k for k, token in enumerate(columns)}
            for i in active:
                next_tokens[i] = rows[i].step(host[i], at)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            last = last + 1
            # One forward more than the tokens need: the logits after the last token of the
            # line feed Huang et al.'s indicator below, as their code scores every position.
            out = self.model(input_ids=next_tokens[:, None].to(mask.device), attention_mask=mask,
                             position_ids=last[:, None], use_cache=True, logits_to_keep=1,
                             **{self._cache_arg: cache})
            cache, logits = _cache_of(out), out.logits[:, -1, :]
            terms = _huang_terms(logits).tolist()
            for i in active:
                rows[i].huang_terms.append(terms[i])
        base = self._base_huang(batch, rows) if self.base_model is not None else None
        results = []
        for k, (ids, r, state) in enumerate(zip(prompts, requests, rows)):
            line = r.score_line
            assert line is not None
            text = line.prefix + line.sep.join(state.values) + line.end
            extra: dict[str, Any] = {"huang": sum(state.huang_terms) / len(state.huang_terms)}
            if base is not None:
                extra["huang_base"] = base[k]
            results.append(Completion(text=text.strip(), slot_probs=state.distributions(),
                                      usage={"prompt_tokens": len(ids),
                                             "completion_tokens": state.steps},
                                      extra=extra))
        return results

    def _base_huang(self, batch: list[list[int]], rows: list[RowState]) -> list[float]:
        """The same indicator from the judge's base model, over the same tokens (Huang et
        al.'s calibration: E_judge - alpha * E_base, HuihuiChyan/UnlimitedJudge
        src/evaluate_reliability.py ``compute_calibrated_score``)."""
        assert self.base_model is not None
        full = [ids + state.tokens for ids, state in zip(batch, rows)]
        input_ids, mask = self._pad(full)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self.base_model(input_ids=input_ids.to(self.base_model.device),
                                 attention_mask=mask.to(self.base_model.device),
                                 position_ids=positions.to(self.base_model.device)).logits
        width = input_ids.shape[1]
        out = []
        for row, state in enumerate(rows):
            n = len(state.tokens)
            # Positions of the generated tokens (left padding puts them at the end).
            terms = _huang_terms(logits[row, width - n:width])
            out.append(float(terms.sum()) / n)
        return out


def _cache_of(out: Any) -> Any:
    """The key/value cache of a forward's output (``cache`` from transformers 5.x on)."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _huang_terms(logits: torch.Tensor) -> torch.Tensor:
    """Huang et al. 2024's per-position term: the mean over the vocabulary of
    log_softmax(logits) * logits (HuihuiChyan/UnlimitedJudge src/cal_reliability.py
    ``get_single_evaluation``: "the original entropy has a minus sign, but we remove it").
    Their indicator averages it over the generated tokens' positions."""
    logits = logits.float()
    return (torch.log_softmax(logits, dim=-1) * logits).mean(dim=-1)
