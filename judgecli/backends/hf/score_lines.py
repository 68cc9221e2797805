"""Score mode's allowed tokens: the canonical tokens of every score line after the real prompt.

A judge writes its score line ("9 3\\n", "[[A]]") as tokens that depend on what comes before:
GPT-2-style BPE writes " 3" as one token, Llama-2 and Mistral chat templates write a reply
as ``' ' + reply``, and Llama-3's ":\\n" may merge with the prompt's last characters. So the
sequences score mode allows are the *canonical in-context tokenizations*: the tokens of
``prompt + lead + line`` after the prompt's own tokens, where ``lead`` is what the judge's
chat template puts before an assistant reply (nothing for a completion prompt).

Where the line's first characters merge with the prompt's last token, the prompt is backed up
to the tokens both share ("token healing"), and those backed-up tokens become the first
steps of every sequence (forced where all lines share them).

Every line is a tuple of slot values (``prefix v1 sep v2 ... end``). Lines are kept as one
prefix tree over whole lines, grown lazily: a node is expanded by tokenizing *probe* lines
that vary the first two slots not yet decided there and keep the others, so a multi-answer
line of 19 scores (10^19 lines) costs a few hundred tokenizations per new path. That relies
on a token depending only on the text up to the next slot, which the tests check against
the full enumeration on every real tokenizer family.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from ...errors import JudgeLoadError
from ...templates import ScoreLine

Assignment = tuple[str, ...]  # one value per slot

_TAIL_CHARS = 256  # prompt characters tokenized as the context of the score line
_WINDOW = 2  # slots a node's probe lines vary


@dataclass
class Node:
    """A prefix of canonical token sequences; ``lines``: the probe lines through it."""

    lines: list[Assignment]
    open: int  # the first slot the lines through this node do not all agree on
    depth: int
    children: dict[int, Node] | None = None  # None until expanded
    line: Assignment | None = None  # the line whose tokens end here


@dataclass
class LineTrie:
    """All score lines of one format after one prompt end, as a lazily grown token trie.

    ``tokenize(text)``: token ids without special tokens added. ``context``: the end of the
    prompt text, ``context_ids`` its tokens. ``back``: how many of the prompt's last tokens
    score mode takes back (token healing); they are the first tokens of every sequence.
    """

    score_line: ScoreLine
    count: int
    context: str
    lead: str
    tokenize: Callable[[str], list[int]]
    context_ids: list[int]
    back: int = 0
    root: Node = field(init=False)
    _canon: dict[Assignment, tuple[int, ...]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        first = list(self._probes((self.score_line.values[0],) * self.count, 0))
        starts = [self._common(a) for a in first]
        self._start = min(starts)
        self.back = len(self.context_ids) - self._start
        self.root = Node(lines=first, open=0, depth=0)

    # -- canonical sequences -------------------------------------------------------------
    def text(self, line: Assignment) -> str:
        s = self.score_line
        return s.prefix + s.sep.join(line) + s.end

    def _ids(self, line: Assignment) -> list[int]:
        return self.tokenize(self.context + self.lead + self.text(line))

    def _common(self, line: Assignment) -> int:
        ids = self._ids(line)
        n = 0
        for a, b in zip(ids, self.context_ids):
            if a != b:
                break
            n += 1
        return n

    def canonical(self, line: Assignment) -> tuple[int, ...]:
        """The tokens score mode writes for ``line``, from the healed start of the prompt."""
        seq = self._canon.get(line)
        if seq is None:
            ids = self._ids(line)
            if ids[:self._start] != self.context_ids[:self._start]:
                raise JudgeLoadError(
                    f"score line {self.text(line)!r} changes the tokens of the prompt before it "
                    f"(more than its last {self.back}); use --mode explain")
            seq = self._canon[line] = tuple(ids[self._start:])
        return seq

    # -- lazy growth ---------------------------------------------------------------------
    def _probes(self, base: Assignment, open_slot: int):
        values = self.score_line.values
        width = min(_WINDOW, self.count - open_slot)
        for combo in itertools.product(values, repeat=width):
            yield base[:open_slot] + combo + base[open_slot + width:]

    def children(self, node: Node, path: Sequence[int]) -> dict[int, Node]:
        """The node's children (expanded on first use). ``path``: the tokens leading to it."""
        if node.children is not None:
            return node.children
        depth = node.depth
        grouped: dict[int, list[Assignment]] = {}
        complete: list[Assignment] = []
        # The lines through a node agree on the slots before ``open``; the rest of the first
        # line stands for the slots the probes do not vary.
        for probe in self._probes(node.lines[0], node.open):
            seq = self.canonical(probe)
            if tuple(seq[:depth]) != tuple(path):
                continue
            if len(seq) == depth:
                complete.append(probe)
            else:
                grouped.setdefault(seq[depth], []).append(probe)
        if len(complete) > 1:
            names = " and ".join(repr(self.text(a)) for a in complete[:2])
            raise JudgeLoadError(f"score lines {names} are the same tokens for this tokenizer; "
                                 "use --mode explain")
        if complete and grouped:
            other = next(iter(grouped.values()))[0]
            raise JudgeLoadError(
                f"score line {self.text(complete[0])!r} is written with a prefix of the tokens "
                f"of {self.text(other)!r} for this tokenizer, so restricted decoding cannot "
                "tell where it ends; use --mode explain")
        node.line = complete[0] if complete else None
        limit = min(node.open + _WINDOW, self.count)
        node.children = {}
        for token, lines in grouped.items():
            open_slot = next((s for s in range(node.open, limit)
                              if len({a[s] for a in lines}) > 1), limit)
            node.children[token] = Node(lines=lines, open=open_slot, depth=depth + 1)
        return node.children


def chat_lead(render: Callable[[str | None], str], line_text: str) -> str:
    """What the judge's chat template writes before an assistant reply, after the
    generation prompt: ``' '`` for Llama-2 and Mistral, nothing for ChatML or Llama-3.

    ``render(None)`` is the prompt with the generation prompt; ``render(reply)`` the
    conversation with ``reply`` as the assistant's turn. Templates may render the earlier
    turns differently once a reply follows (Mistral's moves the system prompt), so the lead
    is found as the text between the end of the generation prompt's last characters and the
    reply, not by comparing the two renderings from the start."""
    prompt = render(None)
    full = render(line_text)
    reply = line_text if line_text in full else line_text.strip()
    at = full.rfind(reply)
    anchor = prompt[-64:]
    if at >= 0:
        for lead_len in range(0, min(at, 64) + 1):
            if full[:at - lead_len].endswith(anchor):
                return full[at - lead_len:at]
    raise JudgeLoadError("the judge's chat template writes an assistant reply in a way judgecli "
                         "cannot place after its generation prompt; use --mode explain")


def build(score_line: ScoreLine, count: int, *, text: str, ids: Sequence[int], lead: str,
          tokenize: Callable[[str], list[int]], full: Callable[[str], list[int]]) -> LineTrie:
    """A trie for the prompt ``text`` (tokens ``ids``): tokenized from its last characters
    when their tokens end as the prompt's do (cheap probes), else from the whole prompt."""
    cut = max(0, len(text) - _TAIL_CHARS)
    while 0 < cut < len(text) and not text[cut - 1].isspace():
        cut += 1  # start the tail on a word boundary
    tail = text[cut:]
    if cut > 0 and tail:
        trie = LineTrie(score_line, count, tail, lead, tokenize, tokenize(tail))
        keep = trie.back + 4
        if len(trie.context_ids) > keep and list(ids[-keep:]) == trie.context_ids[-keep:]:
            return trie
    return LineTrie(score_line, count, text, lead, full, list(ids))


class RowState:
    """Restricted greedy decoding of one row's score line over a ``LineTrie``.

    Each slot's value distribution follows the decoder: at every step the restricted softmax
    over the tokens the lines may go on with; the chosen token's share carries on, and an
    alternative's share is spread evenly over the probe lines below it (what lies below a
    token the decoder did not take is not observed). A slot's distribution is conditional
    on the values chosen for the slots before it, so only lines that agree with those count.
    """

    def __init__(self, trie: LineTrie) -> None:
        self.trie = trie
        self.node = trie.root
        self.tokens: list[int] = []
        self.huang_terms: list[float] = []
        self.line: Assignment | None = None
        self._mass = 1.0
        self._elsewhere: list[tuple[float, list[Assignment]]] = []
        self._check_done()

    @property
    def finished(self) -> bool:
        return self.line is not None

    @property
    def steps(self) -> int:
        return len(self.tokens)

    def _check_done(self) -> None:
        children = self.trie.children(self.node, self.tokens)
        if self.node.line is not None and not children:
            self.line = self.node.line

    def allowed(self) -> list[int]:
        """The tokens the line may go on with, in id order."""
        return sorted(self.trie.children(self.node, self.tokens))

    def step(self, logits: torch.Tensor, at: dict[int, int]) -> int:
        """``logits``: this row's logits of some tokens, token ``t`` at column ``at[t]``."""
        children = self.trie.children(self.node, self.tokens)
        allowed = sorted(children)
        # Softmax over the allowed tokens only; argmax takes the lowest id on a tie,
        # as greedy decoding over logits masked to the allowed set does.
        restricted = logits[[at[token] for token in allowed]]
        probs = torch.softmax(restricted, dim=-1).tolist()
        best = int(torch.argmax(restricted))
        for j, token in enumerate(allowed):
            if j != best:
                self._elsewhere.append((self._mass * probs[j], children[token].lines))
        self._mass *= probs[best]
        token = allowed[best]
        self.tokens.append(token)
        self.node = children[token]
        self._check_done()
        return token

    @property
    def values(self) -> Assignment:
        assert self.line is not None
        return self.line

    def distributions(self) -> tuple[dict[str, float], ...]:
        """Per slot, value -> probability given the chosen values of the slots before it."""
        chosen = self.values
        out = []
        for slot in range(len(chosen)):
            dist = {chosen[slot]: self._mass}
            for mass, lines in self._elsewhere:
                share = mass / len(lines)
                for line in lines:
                    if line[:slot] == chosen[:slot]:
                        dist[line[slot]] = dist.get(line[slot], 0.0) + share
            total = sum(dist.values())
            out.append({value: p / total for value, p in dist.items()})
        return tuple(out)
