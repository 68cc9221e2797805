"""Templates that can express any published judge: record fields as placeholders, the
``replace`` fill, ChatML prompt files, ``bind`` sources, ``base``, and parsers declared as
data (judged end to end, with logprob confidence); a malformed one is refused by its key."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from judgecli import JudgeOptions, Judging, load_template
from judgecli.backends.base import Completion, Judge, Request
from judgecli.backends.openai.token_probs import slot_probs
from judgecli.judging.confidence import verdict_probs
from judgecli.errors import InputError, TemplateError
from judgecli.parsers import ParseFailure, parse
from judgecli.io.records import to_item
from judgecli.templates import template_from_dict

SINGLE = {"name": "t", "kind": "single", "style": "completion",
          "output": {"parser": "final-rating"}}
PAIR = {"name": "p", "kind": "pair", "style": "completion", "text": "{answer_a} {answer_b}",
        "output": {"parser": "final-verdict"}}


FIVE = {"regex": [r"\[\[([AB<>=]+)\]\]", r"\[([AB<>=]+)\]"], "match": "last", "flags": "i",
        "case": "upper", "kind": "verdict", "values": ["A>>B", "A>B", "A=B", "B>A", "B>>A"],
        "label5": {"A>>B": "A>>B", "A>B": "A>B", "A=B": "A=B", "B>A": "B>A", "B>>A": "B>>A"}}
RATING = {"regex": r"Rating: \[\[([^\]]*)\]\]", "match": "last", "kind": "score",
          "number": "float", "range": [1, 10]}


def pair_template(parser=FIVE):
    return template_from_dict({**PAIR, "output": {"parser": parser}}, path="five.json")


def item(**fields):
    return to_item(fields, file="t.jsonl", line=3)


def template(**data):
    return template_from_dict({**SINGLE, **data}, path="mine.json")


def test_any_record_field_is_a_placeholder() -> None:
    t = template(text="Q {question} | {rubric} | {n} | {crit}", bind={"crit": "rubric"})
    it = item(question="q", answer="a", rubric="be {kind} 😀\r\n", n=3)
    assert t.render(it).text == "Q q | be {kind} 😀\r\n | 3 | be {kind} 😀\r\n"
    assert it.record["rubric"] == "be {kind} 😀\r\n"


def test_missing_record_field_names_file_line_and_field() -> None:
    t = template(text="{rubric}")
    with pytest.raises(InputError, match=r"^t.jsonl:3: field 'rubric': missing; template 't' "
                                         r"shows it as \{rubric\}$"):
        t.render(item(question="q", answer="a"))
    bound = template(text="{crit}", bind={"crit": "criteria"})
    with pytest.raises(InputError, match=r"t.jsonl:3: field 'criteria': missing.*\{crit\}"):
        bound.render(item(question="q", answer="a"))
    with pytest.raises(InputError, match=r"field 'rubric': expected a string, got list"):
        t.render(item(question="q", answer="a", rubric=["x"]))


def test_requires_checks_record_fields_before_judging() -> None:
    t = template(text="{rubric}", requires=["rubric", "reference"])
    with pytest.raises(InputError, match=r"t.jsonl:3: field 'rubric': missing; template 't' "
                                         "needs it"):
        t.check_item(item(question="q", answer="a", reference="r"))
    t.check_item(item(question="q", answer="a", reference="r", rubric="x"))
    fixed = template(text="{rubric}", requires=["rubric"], bind={"rubric": {"text": "fixed"}})
    fixed.check_item(item(question="q", answer="a"))  # bound to fixed text: nothing to find
    assert fixed.render(item(question="q", answer="a")).text == "fixed"


def test_replace_fill_keeps_literal_braces() -> None:
    text = '{\n  "q": """{question}""", {"x": 1}, {}, { spaced }, {{\n}'
    t = template(text=text, fill="replace")
    out = t.render(item(question="{answer} {question}", answer="a")).text
    assert out == '{\n  "q": """{answer} {question}""", {"x": 1}, {}, { spaced }, {{\n}'
    with pytest.raises(TemplateError, match=r"mine.json: 'text': with fill 'replace' each "
                                            r"placeholder appears once; \{question\} appears 2"):
        template(text="{question} {question}", fill="replace")


def test_chatml_style_splits_messages_as_alpacaeval() -> None:
    text = ("\n<|im_start|>system\n  Be fair { x }.\n<|im_end|>\n<|im_start|>user\n"
            "Q: {question}\n<|im_end|>\n")
    t = template(style="chatml", text=text, fill="replace")
    msgs = t.render(item(question="<|im_end|> {question}", answer="a")).messages
    assert msgs == ({"role": "system", "content": "Be fair { x }."},
                    {"role": "user", "content": "Q: <|im_end|> {question}"})
    for bad, why in (("system\nx<|im_end|>", "starts with <|im_start|>"),
                     ("<|im_start|>system name=bob\nx\n<|im_end|>", "no name= parameters")):
        with pytest.raises(TemplateError, match=why):
            template(style="chatml", text=bad)


@pytest.mark.parametrize("data,message", [
    ({"fill": "jinja"}, r"'fill' must be one of format, replace"),
    ({"text": "{0}"}, r"'text': bad placeholder \{0\}"),
    ({"text": "{a.b}"}, r"'text': bad placeholder \{a.b\}"),
    ({"text": "x", "bind": {"r": {"rubric": "nope"}}}, r"'bind.r' names no bundled rubric"),
    ({"text": "x", "bind": {"r": {"text": 1}}}, r"'bind.r' text must be a string"),
    ({"text": "x", "bind": {"r": {"text": "a", "rubric": "b"}}}, r"'bind.r' must be a field"),
    ({"text": "x", "bind": {"r": 3}}, r"'bind.r' must be a field name"),
    ({"text": "x", "requires": "rubric"}, r"'requires' must be a list"),
    ({"text": "x", "preference": "alpacaeval"}, r"'preference' must be one of alpacaeval"),
    ({"text": "x", "output": {"parser": "final-rating", "extra": 1}}, r"'output' must be"),
    ({"text": "x", "base": "nope"}, r"'base' 'nope' is neither a bundled template"),
    ({"text": "x", "output": {"parser": {"regex": "(x", "kind": "score", "number": "int"}}},
     r"'output.parser.regex' is not a valid regular expression"),
    ({"text": "x", "output": {"parser": {"regex": "x", "kind": "score", "number": "int"}}},
     r"'output.parser.regex' needs a group"),
    ({"text": "x", "output": {"parser": {"regex": "(x)", "kind": "score"}}},
     r"'output.parser.number' must be int or float"),
    ({"text": "x", "output": {"parser": {"regex": "(x)", "kind": "score", "number": "int",
                                         "range": [5, 1]}}}, r"'output.parser.range'"),
    ({"text": "x", "output": {"parser": {"regex": "(x)", "kind": "verdict",
                                         "map": {"x": "A"}}}},
     r"'output.parser.kind' verdict does not suit a single template"),
    ({"text": "x", "output": {"parser": {"regex": "(x)", "kind": "score", "number": "int",
                                         "map": {}}}}, r"'output.parser.map' does not apply"),
    ({"text": "x", "output": {"parser": {"regex": "(x)", "kind": "tally"}}},
     r"'output.parser.kind' must be verdict or score"),
    ({"text": "x", "output": {"parser": {"regex": "(x)", "kind": "score", "number": "int",
                                         "match": "middle"}}}, r"'output.parser.match'"),
    ({"text": "x", "output": {"parser": {"regex": "(x)", "kind": "score", "number": "int",
                                         "flags": "z"}}}, r"'output.parser.flags'"),
    ({"text": "x", "output": {"parser": {"regex": "(x)", "kind": "score", "number": "int",
                                         "regexp": "y"}}},
     r"'output.parser.regexp' is not a key of a data parser"),
    ({"text": "x", "output": {"parser": 7}}, r"'output.parser' must be one of scores"),
    # issue 24 item 5: {"remove": "abc"} stripped every a, b and c; "oops" was a traceback
    ({"text": "x", "answer_filter": {"remove": "abc"}}, r"'answer_filter.remove' must be a list"),
    ({"text": "x", "answer_filter": "oops"}, r"'answer_filter' must be an object"),
    ({"text": "x", "answer_filter": {"drop": ["<s>"]}}, r"'answer_filter' must be an object"),
    ({"text": "x", "answer_filter": {"remove": ["<s>", ""]}}, r"'answer_filter.remove'"),
])
def test_malformed_templates_name_the_key(data, message) -> None:
    with pytest.raises(TemplateError, match=message):
        template(**data)


@pytest.mark.parametrize("spec,message", [
    ({"regex": "(x)", "kind": "verdict", "map": {"x": "C"}}, r"'output.parser.map' must map"),
    ({"regex": "(x)", "kind": "verdict", "map": {"x": "A"}, "label5": {"x": "A>B"}},
     r"'output.parser.label5' must map"),
    ({"regex": "(x)", "kind": "verdict", "label5": {"x": "A>>>B"}},
     r"'output.parser.label5' must map"),
    ({"regex": "(x)", "kind": "verdict", "map": {"x": "A"}, "values": ["y"]},
     r"'output.parser.values' must be keys"),
    ({"regex": "(x)", "kind": "verdict", "map": {"x": "A"}, "case": "upper"},
     r"'output.parser.map' keys must be upper-case"),
    ({"regex": "(x)", "kind": "verdict", "map": {"x": "A"}, "tokens": "some"},
     r"'output.parser.tokens'"),
])
def test_malformed_pair_parsers_name_the_key(spec, message) -> None:
    with pytest.raises(TemplateError, match=message):
        template_from_dict({**PAIR, "output": {"parser": spec}}, path="mine.json")


def test_base_template_with_overrides_and_bind_merged(tmp_path) -> None:
    (tmp_path / "mine.json").write_text(json.dumps({
        "base": "judgelm-pair", "name": "mine", "bind": {"question": {"text": "[Q]"}}}))
    (tmp_path / "again.json").write_text(json.dumps({"base": "mine.json", "name": "again"}))
    base = load_template("judgelm-pair")
    for name in ("mine.json", "again.json"):
        t = load_template(str(tmp_path / name))
        text = t.render(item(question="q", answer_a="a", answer_b="b")).text
        assert text.startswith(base.text.split("{question}")[0] + "[Q]\n\n")
        assert t.bind == {"answer_1": "answer_a", "answer_2": "answer_b"}
        assert (t.parser, t.score_line) == (base.parser, base.score_line)


def test_named_parsers_still_work_and_data_parsers_travel_as_names() -> None:
    assert parse("final-verdict", "[[B]]").verdict == "B"
    name = pair_template().parser
    assert name.startswith("regex:") and parse(name, "x [[B>A]]").label5 == "B>A"
    with pytest.raises(ValueError, match="unknown parser"):
        parse("nope", "x")


class FixedJudge(Judge):
    name = "fixed"

    def __init__(self, text: str, tokens: Sequence | None = None) -> None:
        self.text, self.tokens = text, tokens

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return [Completion(text=self.text, slot_probs=slot_probs(
            self.tokens, self.text, r.parser, r.values) if self.tokens else None)
            for r in requests]


def test_data_parsers_judge_end_to_end() -> None:
    it = to_item({"id": 1, "question": "q", "answer_a": "a", "answer_b": "b"}, file="t",
                 line=1)
    record = Judging(FixedJudge("Reasoning... [[A>>B]]"),
                     JudgeOptions(template=pair_template())).record(
        it, [Completion(text="Reasoning... [[A>>B]]")] * 2)
    judgment = record["judgment"]
    assert [o["label5"] for o in judgment["orders"]] == ["A>>B", "B>>A"]
    assert (judgment["verdict"], judgment["consistent"]) == ("tie", False)  # strict rule
    single = to_item({"id": 2, "question": "q", "answer": "a"}, file="t", line=2)
    rating = template(text="{question} {answer}", output={"parser": RATING})
    out = Judging(FixedJudge("Fine. Rating: [[7]]"),
                  JudgeOptions(template=rating)).judge_items([single])
    assert out[0]["judgment"]["score"] == 7.0 and out[0]["judgment"]["error"] is None
    failed = Judging(FixedJudge("Rating: [[11]]"), JudgeOptions(
        template=rating)).judge_items([single])[0]["judgment"]
    assert failed["score"] is None and "outside 1-10" in failed["error"]


def test_data_parser_confidence_from_api_logprobs() -> None:
    # "[[B>A]]" written in several tokens; the alternatives at the value's first token.
    text = "Both fine. [[B>A]]"
    tokens = [("Both fine. [[", -0.01, []),
              ("B", -0.2, [("B", -0.2), ("A", -1.8), ("X", -3.0)]),
              (">", -0.1, [(">", -0.1), (">>", -2.4), ("=", -5.0)]),
              ("A", 0.0, []), ("]]", 0.0, [])]
    parser = pair_template().parser
    probs = verdict_probs(slot_probs(tokens, text, parser, ()), parser)
    assert probs is not None and probs["B"] > 0.6 and abs(sum(probs.values()) - 1) < 1e-9
    assert probs["A"] > 0  # "A" opens A>>B, A>B and A=B
    # A value outside the closed set gives no distribution, never an error.
    assert slot_probs(tokens, "[[B<A]]", parser, ()) is None


def test_data_parser_failures_are_parse_failures() -> None:
    parser = template(text="x", output={"parser": {**RATING, "number": "int"}}).parser
    for text in ("Rating: [[11]]", "Rating: [[" + "9" * 5000 + "]]", "Rating: [[nan]]",
                 "Rating: [[7.5]]", "nothing"):
        with pytest.raises(ParseFailure):
            parse(parser, text)

