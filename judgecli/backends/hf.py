"""A local judge: any causal LM that transformers loads with ``from_pretrained``.

Two modes. ``explain`` generates the whole judgment greedily. ``score`` writes only the
template's score line (e.g. JudgeLM's "9 3"): one batched forward pass over the prompts,
then a few cached decoding steps in which each row may only take tokens that keep the line
in the template's format. The tokens chosen are exactly what greedy decoding restricted to
that format produces (``generate`` with the same allowed tokens picks the same ones), and
the restricted next-token distributions give each slot's value probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..errors import JudgeLoadError
from ..templates import ScoreLine
from .base import Completion, Judge, Request

_LEAF = -1  # key of a trie node that completes a value; its value is the value string


class _SlotTrie:
    """Token sequences of one score-line slot ("9 ", "10 ", ...) as a prefix tree."""

    def __init__(self, sequences: dict[str, list[int]]) -> None:
        self.root: dict[int, Any] = {}
        for value, ids in sequences.items():
            node = self.root
            for token in ids:
                if _LEAF in node:
                    raise JudgeLoadError(f"score value {value!r} extends another value's "
                                         "tokens; use --mode explain for this tokenizer")
                node = node.setdefault(token, {})
            if node:
                raise JudgeLoadError(f"score value {value!r} is a prefix of another; "
                                     "use --mode explain for this tokenizer")
            node[_LEAF] = value

    @staticmethod
    def leaves(node: dict[int, Any]) -> list[str]:
        if _LEAF in node:
            return [node[_LEAF]]
        return [leaf for key, child in node.items() for leaf in _SlotTrie.leaves(child)]


class TransformersJudge(Judge):
    supports_score_mode = True

    def __init__(self, model: str, *, batch_size: int | None = None, device: str | None = None,
                 trust_remote_code: bool = False, **_: Any) -> None:
        self.name = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model,
                                                           trust_remote_code=trust_remote_code)
            self.model = AutoModelForCausalLM.from_pretrained(
                model, dtype=dtype, trust_remote_code=trust_remote_code,
                device_map="auto" if self.device == "cuda" else None)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise JudgeLoadError(f"cannot load judge '{model}': not a local model folder, and "
                                 f"not in the hub cache or reachable ({first})") from None
        if self.device != "cuda":
            self.model.to(self.device)
        self.model.eval()
        self.tokenizer.padding_side = "left"
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None \
                else 0
        self.batch_size = batch_size or (32 if self.device.startswith("cuda") else 8)
        self._tries: dict[tuple[Any, ...], list[_SlotTrie]] = {}

    def preferred_batch(self) -> int:
        return self.batch_size

    # -- prompts -----------------------------------------------------------------------------
    def encode(self, request: Request) -> list[int]:
        prompt = request.prompt
        if prompt.text is not None:
            return list(self.tokenizer(prompt.text).input_ids)
        if not getattr(self.tokenizer, "chat_template", None):
            raise JudgeLoadError(f"'{self.name}' has no chat template, so it cannot take the "
                                 "chat messages this template sends; use a completion template")
        ids = self.tokenizer.apply_chat_template(list(prompt.messages or ()),
                                                 add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return list(ids)

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        encoded = [self.encode(r) for r in requests]
        # Longest first, so padding is small and an out-of-memory error shows at once.
        order = sorted(range(len(requests)), key=lambda i: -len(encoded[i]))
        results: list[Completion | None] = [None] * len(requests)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            for mode in ("score", "explain"):
                rows = [i for i in chunk if (requests[i].score_line is not None) == (mode == "score")]
                if not rows:
                    continue
                batch = [encoded[i] for i in rows]
                with torch.inference_mode():
                    done = self._score(batch, [requests[i] for i in rows]) if mode == "score" \
                        else self._generate(batch, max(requests[i].max_new_tokens for i in rows))
                for i, completion in zip(rows, done):
                    results[i] = completion
        return [r for r in results if r is not None]

    def _pad(self, batch: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            mask[row, width - len(ids):] = 1
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
    def tries(self, line: ScoreLine, count: int) -> list[_SlotTrie]:
        """The prefix trees of each slot's token sequences, built once per format."""
        key = (line, count)
        if key not in self._tries:
            slots = []
            for slot in range(count):
                head = line.prefix if slot == 0 else ""
                tail = line.end if slot == count - 1 else line.sep
                # Tokenize in context (after a typical previous slot) so that a tokenizer
                # that marks word starts gives the tokens the judge would really write.
                context = "Response:" if slot == 0 else "Response:" + line.prefix + \
                    line.values[0] + line.sep
                base = self.tokenizer(context, add_special_tokens=False).input_ids
                sequences = {}
                for value in line.values:
                    ids = self.tokenizer(context + head + value + tail,
                                         add_special_tokens=False).input_ids
                    if ids[:len(base)] != base:
                        raise JudgeLoadError(f"the tokenizer of '{self.name}' merges the score "
                                             "line with the text before it; use --mode explain")
                    sequences[value] = ids[len(base):]
                slots.append(_SlotTrie(sequences))
            self._tries[key] = slots
        return self._tries[key]

    def _score(self, batch: list[list[int]], requests: list[Request]) -> list[Completion]:
        input_ids, mask = self._pad(batch)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                         use_cache=True, logits_to_keep=1)
        cache, logits = out.past_key_values, out.logits[:, -1, :]
        last = positions[:, -1]
        rows = [_RowState(self.tries(r.score_line, r.count)) for r in requests
                if r.score_line is not None]
        while True:
            next_tokens = torch.full((len(rows),), self.pad_id, dtype=torch.long)
            for i, state in enumerate(rows):
                if not state.finished:
                    next_tokens[i] = state.step(logits[i])
            if all(state.finished for state in rows):
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            last = last + 1
            out = self.model(input_ids=next_tokens[:, None].to(mask.device), attention_mask=mask,
                             position_ids=last[:, None], past_key_values=cache, use_cache=True,
                             logits_to_keep=1)
            cache, logits = out.past_key_values, out.logits[:, -1, :]
        results = []
        for ids, r, state in zip(batch, requests, rows):
            line = r.score_line
            assert line is not None
            text = line.prefix + line.sep.join(state.values) + line.end
            results.append(Completion(text=text.strip(), slot_probs=tuple(state.dists),
                                      usage={"prompt_tokens": len(ids),
                                             "completion_tokens": state.steps}))
        return results


class _RowState:
    """Restricted greedy decoding of one row's score line, slot by slot."""

    def __init__(self, tries: list[_SlotTrie]) -> None:
        self.tries = tries
        self.slot = 0
        self.node = tries[0].root
        self.values: list[str] = []
        self.dists: list[dict[str, float]] = []
        self._mass = 1.0
        self._dist: dict[str, float] = {}
        self.steps = 0

    @property
    def finished(self) -> bool:
        return self.slot == len(self.tries)

    def step(self, logits: torch.Tensor) -> int:
        allowed = sorted(k for k in self.node if k != _LEAF)
        # Softmax over the allowed tokens only; argmax takes the lowest id on a tie,
        # as greedy decoding over logits masked to the allowed set does.
        restricted = logits[allowed].float()
        probs = torch.softmax(restricted, dim=-1).tolist()
        best = int(torch.argmax(restricted))
        for j, token in enumerate(allowed):
            if j != best:
                # Values below a token the decoder did not take: their share of its
                # probability is not observed, so it is split evenly among them.
                leaves = _SlotTrie.leaves(self.node[token])
                for leaf in leaves:
                    self._dist[leaf] = self._dist.get(leaf, 0.0) + \
                        self._mass * probs[j] / len(leaves)
        self._mass *= probs[best]
        token = allowed[best]
        self.node = self.node[token]
        self.steps += 1
        if _LEAF in self.node:
            value = self.node[_LEAF]
            self._dist[value] = self._dist.get(value, 0.0) + self._mass
            self.values.append(value)
            self.dists.append(self._dist)
            self._dist, self._mass = {}, 1.0
            self.slot += 1
            if not self.finished:
                self.node = self.tries[self.slot].root
        return token
