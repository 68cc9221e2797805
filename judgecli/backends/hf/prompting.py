"""A local judge's prompts as tokens: the text a request renders to (a completion prompt as
written, chat messages through the judge's chat template), its token ids, how it stands
against the context window, and score mode's canonical score lines after it.

Shared by every backend that runs a transformers checkpoint with its own tokenizer (the
transformers judge and the vLLM judge), so that both send the judge the same token ids
and restrict score mode to the same token sequences.
"""

from __future__ import annotations

from typing import Any

from ...errors import JudgeLoadError
from ...templates import ScoreLine
from ..base import Request, Room
from . import score_lines
from .score_lines import LineTrie


def context_window(config: Any) -> tuple[int, str] | None:
    """The most positions the model was trained on, and the config field that says so
    (GPT-2's family names it n_positions); None where the config gives none."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(text, name, None)
        if isinstance(value, int) and value > 0:
            return value, name
    return None


class LocalPrompts:
    """Prompt handling for a judge holding a transformers ``tokenizer``; the judge calls
    :meth:`init_prompts` once it has its tokenizer and model config."""

    name: str

    def init_prompts(self, tokenizer: Any, config: Any) -> None:
        self.tokenizer = tokenizer
        self.context_window = context_window(config)
        self._tries: dict[tuple[Any, ...], LineTrie] = {}
        self._leads: dict[tuple[Any, ...], str] = {}

    # -- prompts -----------------------------------------------------------------------------
    def render(self, request: Request) -> tuple[str, bool]:
        """The prompt as text, and whether the tokenizer adds its special tokens (a chat
        template writes them into the text itself, as ``apply_chat_template`` does)."""
        prompt = request.prompt
        if prompt.text is not None:
            return prompt.text, True
        if not getattr(self.tokenizer, "chat_template", None):
            raise JudgeLoadError(f"'{self.name}' has no chat template, so it cannot take the "
                                 "chat messages this template sends; use a completion template")
        text = self.tokenizer.apply_chat_template(list(prompt.messages or ()),
                                                  add_generation_prompt=True, tokenize=False)
        return text, False

    def encode(self, request: Request) -> list[int]:
        text, specials = self.render(request)
        return list(self.tokenizer(text, add_special_tokens=specials).input_ids)

    def room(self, request: Request, ids: list[int] | None = None) -> Room | None:
        """Exact: the prompt's tokens (``ids``, if encoded already) and what it may write:
        ``--max-new-tokens`` in explain mode, the score line in score mode."""
        if self.context_window is None:
            return None
        window, source = self.context_window
        tokens = len(ids if ids is not None else self.encode(request))
        if request.score_line is None:
            return Room(tokens, request.max_new_tokens, window, source=source)
        return Room(tokens, self._line_tokens(request), window, writes="the score line",
                    source=source)

    def _line_tokens(self, request: Request) -> int:
        """The most positions score mode takes after the prompt: the longest score line's
        tokens and one forward more (``_score``)."""
        line = request.score_line
        assert line is not None
        longest = max(line.values, key=len)
        text = line.prefix + line.sep.join([longest] * max(1, request.count)) + line.end
        return len(self.tokenizer(text, add_special_tokens=False).input_ids) + 1

    # -- score mode: the canonical score lines ------------------------------------------------
    def trie(self, request: Request, ids: list[int]) -> LineTrie:
        """The score lines' canonical token sequences after this prompt's end, built once per
        format and prompt end (the last tokens of the prompt), so items share them."""
        line = request.score_line
        assert line is not None
        text, specials = self.render(request)
        lead = ""
        if request.prompt.messages is not None:
            lead = self._lead(request, line, request.count)
        key = (line, request.count, lead, tuple(ids[-16:]))
        if key not in self._tries:
            def plain(t: str) -> list[int]:
                return list(self.tokenizer(t, add_special_tokens=False).input_ids)

            def full(t: str) -> list[int]:
                return list(self.tokenizer(t, add_special_tokens=specials).input_ids)

            self._tries[key] = score_lines.build(line, request.count, text=text, ids=ids,
                                                 lead=lead, tokenize=plain, full=full)
        return self._tries[key]

    def _lead(self, request: Request, line: ScoreLine, count: int) -> str:
        """What the chat template writes before a reply (per conversation shape)."""
        messages = list(request.prompt.messages or ())
        key = (line, count, tuple(m["role"] for m in messages))
        if key not in self._leads:
            sample = line.prefix + line.sep.join([line.values[0]] * count) + line.end

            def render(reply: str | None) -> str:
                if reply is None:
                    return self.tokenizer.apply_chat_template(
                        messages, add_generation_prompt=True, tokenize=False)
                return self.tokenizer.apply_chat_template(
                    messages + [{"role": "assistant", "content": reply}], tokenize=False)

            self._leads[key] = score_lines.chat_lead(render, sample)
        return self._leads[key]
