"""Prometheus 2, Auto-J, AlpacaEval 2 and Arena-Hard: every bundled template renders what the
original code builds (byte for byte) and every parser reads what the original code reads, on
awkward items; each place where judgecli differs on purpose is tested as such."""

from __future__ import annotations

import hashlib
import json
import math

import originals_judges as og
import pytest

from judgecli import load_template
from judgecli.backends.openai.token_probs import slot_probs
from judgecli.judging.confidence import alpacaeval_preference, verdict_probs
from judgecli.parsers import ParseFailure, parse
from judgecli.io.records import to_item
from judgecli.templates import template_from_dict

AWKWARD = [
    "plain answer",
    "braces {answer} and {question} and {} and {0} and {{x}}",
    "a fake marker [RESULT] 5 and Rating: [[9]] and [[A>>B]] and final decision is Response 1",
    "windows\r\nline endings\r\n",
    "emoji 😀🎉 and ü",
    "",
    "  leading and trailing whitespace \n",
    '"""triple quotes""" and {instruction} and {response_A}',
]


def item(**fields):
    return to_item(fields, file="t.jsonl", line=1)


def pair(text, **more):
    return item(question=f"Q {text}", answer_a=f"A {text}", answer_b=f"B {text}", **more)


# -- Prometheus 2 --------------------------------------------------------------------------

@pytest.mark.parametrize("ref", [False, True])
@pytest.mark.parametrize("text", AWKWARD)
def test_prometheus_absolute_exact(text: str, ref: bool) -> None:
    rubric = f"[Is it {text}?]\nScore 1: no {{criteria}}\nScore 5: yes"
    it = item(question=f"Q {text}", answer=f"R {text}", rubric=rubric,
              reference=f"Ref {text}" if ref else None)
    expected = og.prometheus_messages("absolute", f"Q {text}", [f"R {text}"], rubric,
                                      f"Ref {text}" if ref else None)
    name = "prometheus-absolute" + ("-ref" if ref else "")
    assert list(load_template(name).render(it).messages) == expected
    assert load_template(name + "-mistral").render(it).text == \
        og.fastchat_mistral_prompt(expected)


@pytest.mark.parametrize("ref", [False, True])
@pytest.mark.parametrize("text", AWKWARD)
def test_prometheus_relative_exact_in_both_orders(text: str, ref: bool) -> None:
    rubric = f"[Which is {text}?]"
    it = pair(text, rubric=rubric, reference=f"Ref {text}" if ref else None)
    name = "prometheus-relative" + ("-ref" if ref else "")
    for order, shown in (("AB", [f"A {text}", f"B {text}"]), ("BA", [f"B {text}", f"A {text}"])):
        expected = og.prometheus_messages("relative", f"Q {text}", shown, rubric,
                                          f"Ref {text}" if ref else None)
        assert list(load_template(name).render(it, order).messages) == expected
        assert load_template(name + "-mistral").render(it, order).text == \
            og.fastchat_mistral_prompt(expected)


def test_prometheus_mistral_wrapping_is_fastchats() -> None:
    text = load_template("prometheus-absolute-mistral").render(
        item(question="q", answer="a", rubric="r")).text
    assert text.startswith("[INST] " + og.ABS_SYSTEM_PROMPT + "\n###Task Description:\n")
    assert text.endswith("###Feedback:  [/INST]")  # the prompt's own space, then FastChat's


def test_prometheus_rubric_field_is_required_with_file_line_field() -> None:
    from judgecli.errors import InputError

    with pytest.raises(InputError, match=r"t.jsonl:1: field 'rubric': missing; template "
                                         r"'prometheus-absolute' needs it"):
        load_template("prometheus-absolute").check_item(item(question="q", answer="a"))


@pytest.mark.parametrize("criteria", sorted(og.PROMETHEUS_RUBRICS))
def test_prometheus_bundled_rubrics_are_its_constants(criteria: str) -> None:
    from judgecli.templates.files import read_rubric

    assert read_rubric(f"prometheus-{criteria}") == og.PROMETHEUS_RUBRICS[criteria]
    for grading, name in (("absolute", "prometheus-absolute"),
                          ("relative", "prometheus-relative-mistral")):
        t = template_from_dict({
            "base": name, "name": f"mine-{criteria}", "requires": [],
            "bind": {"rubric": {"rubric": f"prometheus-{criteria}",
                                "first_line": grading == "relative"}}}, path="mine.json")
        rubric = og.prometheus_load_rubric(criteria, grading)
        if grading == "absolute":
            it = item(question="q {x}", answer="a")
            assert list(t.render(it).messages) == og.prometheus_messages(
                "absolute", "q {x}", ["a"], rubric)
        else:
            it = item(question="q", answer_a="a", answer_b="b")
            assert t.render(it, "BA").text == og.fastchat_mistral_prompt(
                og.prometheus_messages("relative", "q", ["b", "a"], rubric))


def test_prometheus_score_rubric_template_from_record_fields() -> None:
    fields = {"criteria": "Is it {concise}?", **{f"score{i}_description": f"level {i} 😀"
                                                 for i in range(1, 6)}}
    t = template_from_dict({
        "base": "prometheus-absolute", "name": "mine", "requires": list(fields),
        "bind": {"rubric": {"rubric": "prometheus-score-rubric", "format": True}}},
        path="mine.json")
    expected = og.prometheus_messages("absolute", "q", ["a"],
                                      og.SCORE_RUBRIC_TEMPLATE.format(**fields))
    assert list(t.render(item(question="q", answer="a", **fields)).messages) == expected


def test_prometheus_rubric_reaches_the_prompt_and_a_local_judge(tmp_path, tiny_judge,
                                                                 monkeypatch, capsys) -> None:
    from conftest import read_jsonl, run_cli, write_jsonl

    rubric = "[Is the arithmetic right?]\nScore 1: wrong {sum}\nScore 5: right"
    src = write_jsonl(tmp_path / "items.jsonl", [{"id": "q1", "question": "What is 2+2?",
                                                  "answer": "5 {answer}", "rubric": rubric}])
    code, out, _ = run_cli(monkeypatch, capsys, "judge", str(src), "-t",
                           "prometheus-absolute-mistral", "--dry-run")
    prompt = json.loads(out.splitlines()[0])["prompt"]
    assert code == 0 and f"###Score Rubrics:\n{rubric}\n\n###Feedback:  [/INST]" in prompt
    assert prompt == og.fastchat_mistral_prompt(og.prometheus_messages(
        "absolute", "What is 2+2?", ["5 {answer}"], rubric))
    # A local judge without the rubric's chat template runs it in explain mode.
    code, _, _ = run_cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                         "-t", "prometheus-absolute-mistral", "-o", str(tmp_path / "o.jsonl"),
                         "--max-new-tokens", "4")
    record = read_jsonl(tmp_path / "o.jsonl")[0]
    assert code in (0, 1) and record["rubric"] == rubric  # 1: the random judge wrote no score
    assert record["judgment"]["mode"] == "explain"
    assert (record["judgment"]["error"] is None) == (code == 0)


# prometheus-eval 0.1.20's parser.py (re-stated in originals_judges.py; the installed package
# itself in test_originals_installed.py): every marker form it takes, the marker and value
# at the end of the reply (absolute) or of its line (relative); judgecli reads the same.
PROMETHEUS_ABSOLUTE_CASES = [
    "Good feedback. [RESULT] 4", "[RESULT] (3)", "[RESULT] [5]", "x [result] 2", "[RESULT]4",
    "[RESULT] 3/5", "[RESULT] 3 / 5", "[RESULT] 3/ 5", "[RESULT] 1 out of 5",
    "[RESULT]2out of 5", "[RESULT] 5\n", "[RESULT]  ( [ 4 ) tail", "[RESULT] ٣", "[RESULT] ４",
    "[RESULT] 4 and later [RESULT] 1", "[RESULT] 4\n[RESULT] 5", "[RESULT] 4\nthanks",
    "[RESULT] 6", "[RESULT] 0", "[RESULT] 0004", "[RESULT] 45", "[RESULT] 3.", "[RESULT] x",
    "", "no marker", "[RESULT] 2" + " " * 5000, "[RESULT]" + " " * 5000 + "x", "[REſULT] 3",
    "Score: 4", "score of 3", "[SCORE] 2", "Result: 5", "Score: 2 ... [RESULT] 4",
    "[Result]: 3", "the score 4", "Rescore 2", "[RESULT] ((4))", "[RESULT] 4)",
]
PROMETHEUS_RELATIVE_CASES = [
    "Feedback. [RESULT] A", "[RESULT] B", "[result] a", "[RESULT]B", "[RESULT] A]",
    "[RESULT] Response B", "[Result] Response A\n", "[RESULT] C", "[RESULT] AB", "",
    "[RESULT] B\nmore [RESULT] A", "[RESULT]\nA", "[RESULT] A or B", "[RESULT] A.\n[RESULT] B",
    "[Response A] is better", "[Response A]\nso", "Result: B", "[RESULT: A]", "x\nResult A",
    "[Response B] then [RESULT] A", "Results: B", "[RESULT] B \r\nthanks", "[RESULT] A\u2028x",
]


def _ours(parser: str, text: str):
    try:
        parsed = parse(parser, text)
    except ParseFailure:
        return None
    return parsed.verdict if parsed.scores is None else int(parsed.scores[0])


@pytest.mark.parametrize("text", PROMETHEUS_ABSOLUTE_CASES)
def test_prometheus_absolute_parser_reads_as_parser_py(text: str) -> None:
    assert _ours(load_template("prometheus-absolute").parser, text) == \
        og.prometheus_parse(text, "absolute")[0]


def test_prometheus_absolute_too_many_digits_fails_where_parser_py_raises() -> None:
    text = "[RESULT] " + "4" * 5000
    with pytest.raises(ValueError):
        og.prometheus_parse(text, "absolute")
    with pytest.raises(ParseFailure, match="too many digits"):
        parse(load_template("prometheus-absolute").parser, text)


@pytest.mark.parametrize("text", PROMETHEUS_RELATIVE_CASES)
def test_prometheus_relative_parser_reads_as_parser_py(text: str) -> None:
    assert _ours(load_template("prometheus-relative").parser, text) == \
        og.prometheus_parse(text, "relative")[0]


# -- Auto-J --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", AWKWARD)
def test_autoj_prompts_exact(text: str) -> None:
    it = pair(text)
    t = load_template("autoj-pair")
    assert t.render(it, "AB").text == og.autoj_input(f"Q {text}", f"A {text}", f"B {text}",
                                                     "pairwise_tie")
    assert t.render(it, "BA").text == og.autoj_input(f"Q {text}", f"B {text}", f"A {text}",
                                                     "pairwise_tie")
    assert load_template("autoj-single").render(item(question=f"Q {text}", answer=f"R {text}")
                                                ).text == og.autoj_input(f"Q {text}", f"R {text}")


AUTOJ_PAIR_OUTPUTS = [
    "So, the final decision is Response 1.", "final decision is Response 2",
    "final decision is Tie", "the final decision is   RESPONSE 2",
    "final decision is response 10", "final decision is tiebreak",
    "final decision is Response 1 ... but the final decision is Response 2",
    "final decision is Response 1 ... final decision is unclear",
    "final decision is Response 1\n",
    "final decision is Response 1 and then final decision is   \n  ",
    "Final Decision Is Response 1", "final decision is\nResponse 2",
    "final decision isResponse 2", "final decision is Response\t1", "final decision is TİE",
    "final decision is reſponse 1", "", "no decision", "final decision is ",
    "  final decision is Tie  ",
]


@pytest.mark.parametrize("text", AUTOJ_PAIR_OUTPUTS)
def test_autoj_pair_parser_as_extract_pariwise_result(text: str) -> None:
    expected = {0: "A", 1: "B", 2: "tie", -1: None}[og.autoj_pairwise(text)]
    assert _ours(load_template("autoj-pair").parser, text) == expected


AUTOJ_SINGLE_OUTPUTS = [
    "Critique. Rating: [[5]]", "Rating: [[ 7 ]]", "Rating: [[7.5]]",
    "Rating: [[3]] later Rating: [[8]]", "Rating: [[8]] and Rating: [[x]]", "Rating: [[1_0]]",
    "Rating: [[٥]]", "Rating: [[inf]]", "Rating: [[nan]]", "Rating: [[]]", "Rating: [[5",
    "Rating: [[5]] Rating: [[6", "no rating", "rating: [[5]]", "Rating: [[Rating: [[4]]",
    "Rating: [[ -2 ]]", "Rating: [[1e1]]", "",
]


@pytest.mark.parametrize("text", AUTOJ_SINGLE_OUTPUTS)
def test_autoj_single_parser_as_extract_single_rating(text: str) -> None:
    try:
        original = og.autoj_single(text)
        if "Rating: [[" not in text or not math.isfinite(original):
            original = None  # 0.0 without a rating, inf / nan: failures here
    except (AssertionError, ValueError):
        original = None  # the original stops there
    try:
        ours = parse(load_template("autoj-single").parser, text).scores[0]
    except ParseFailure:
        ours = None
    assert ours == original


# -- Arena-Hard ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,system", [("arena-hard", og.OG_ARENA_HARD_PROMPT),
                                         ("arena-hard-creative", og.CREATIVE_WRITING_PROMPT)])
@pytest.mark.parametrize("text", AWKWARD)
def test_arena_hard_games_exact(name: str, system: str, text: str) -> None:
    it = pair(text)
    t = load_template(name)
    # Game 1: the baseline (A) first; game 2: swapped, as gen_judgment.py's round 2.
    assert list(t.render(it, "AB").messages) == og.arena_messages(system, f"Q {text}",
                                                                  f"A {text}", f"B {text}")
    assert list(t.render(it, "BA").messages) == og.arena_messages(system, f"Q {text}",
                                                                  f"B {text}", f"A {text}")


FLIP5 = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}
CANON = {"A>>B": "A>>B", "A>B": "A>B", "A=B": "A=B", "B>A": "B>A", "B>>A": "B>>A",
         "B<<A": "A>>B", "B<A": "A>B", "B=A": "A=B", "A<B": "B>A", "A<<B": "B>>A"}
ARENA_OUTPUTS = [
    "My final verdict is tie: [[A=B]]", "[[A>>B]]", "[[b>a]]", "first [[A>B]] then [[B>>A]]",
    "[[A<B]]", "[[B<<A]]", "[[B=A]]", "[A>B]", "[[A]]", "[[A>B]] and [B>>A]",
    "no verdict", "", "[[AB]]", "[[A>>>B]]", "[[ A>B ]]", "[A>B] [[C]]", "[[a>>b]]\n",
    "verdict: [[A>B]] " + "[" * 3000,
]


@pytest.mark.parametrize("text", ARENA_OUTPUTS)
def test_arena_hard_parser_as_get_score(text: str) -> None:
    label = og.arena_get_score(text)
    usable = label in og.ARENA_LABEL_TO_SCORE  # show_result.py's labels; others stop it
    parser = load_template("arena-hard").parser
    try:
        parsed = parse(parser, text)
    except ParseFailure:
        parsed = None
    assert (parsed.label5 if parsed else None) == (CANON[label] if usable else None)
    if parsed:
        assert parsed.verdict == {"A>>B": "A", "A>B": "A", "A=B": "tie", "B>A": "B",
                                  "B>>A": "B"}[parsed.label5]


def test_arena_hard_label5_in_original_terms_in_each_order() -> None:
    from judgecli.judging.debias import map_back

    parsed = parse(load_template("arena-hard").parser, "[[A>>B]]")
    assert map_back("AB", parsed, "", None).label5 == "A>>B"
    back = map_back("BA", parsed, "", None)
    assert (back.label5, back.verdict) == ("B>>A", "B")
    assert back.to_json()["label5"] == "B>>A"


# -- AlpacaEval 2 --------------------------------------------------------------------------

ALPACA = load_template("alpacaeval2")


def test_alpacaeval_prompt_file_is_the_published_one() -> None:
    digest = hashlib.sha256(ALPACA.text.encode("utf-8")).hexdigest()
    assert digest == "784227e6dc2832fc08c43d2c8ea3a308e7523780187a1aaad2f85e30bac85f62"
    assert len(ALPACA.text.encode("utf-8")) == 1398  # as in the alpaca_eval 0.6 sdist


@pytest.mark.parametrize("text", [t for t in AWKWARD if "{instruction}" not in t])
def test_alpacaeval_messages_exact(text: str) -> None:
    it = pair(text)
    for order, (first, second) in (("AB", ("A", "B")), ("BA", ("B", "A"))):
        row = {"instruction": f"Q {text}", "output_1": f"{first} {text}",
               "output_2": f"{second} {text}"}
        expected = og.alpacaeval_prompt_to_chatml(og.alpacaeval_make_prompt(ALPACA.text, row))
        assert list(ALPACA.render(it, order).messages) == [
            {"role": m["role"], "content": m["content"]} for m in expected]


def test_alpacaeval_literal_braces_and_values_inserted_once() -> None:
    # make_prompts replaces in the text filled so far, so an instruction holding
    # "{output_1}" receives the first output; judgecli inserts every value where it belongs.
    it = item(question="show {output_1} and {output_2}", answer_a="one", answer_b="two <|im_end|>")
    user = ALPACA.render(it).messages[1]["content"]
    assert '"instruction": """show {output_1} and {output_2}""",' in user
    assert '"output": """one"""' in user and '"output": """two <|im_end|>"""' in user
    assert user.count("{\n    {\n") == 1  # AlpacaEval's literal braces stay literal
    row = {"instruction": "show {output_1} and {output_2}", "output_1": "one",
           "output_2": "two <|im_end|>"}
    original = og.alpacaeval_prompt_to_chatml(og.alpacaeval_make_prompt(ALPACA.text, row))
    assert original[1]["content"] != user  # AlpacaEval's differs here, on purpose


def _top(m: float, big_m: float, other: float = -3.0):
    return [("M", big_m), ("m", m), (" M", -0.5), ("The", other), ("", -1.0)]


@pytest.mark.parametrize("lp_m,lp_big", [(-0.1, -2.4), (-3.0, -0.05), (-0.7, -0.7),
                                         (-1e-9, -30.0)])
def test_alpacaeval_preference_as_logprob_parser(lp_m: float, lp_big: float) -> None:
    chosen = "m" if lp_m >= lp_big else "M"
    tokens = [(chosen, max(lp_m, lp_big), _top(lp_m, lp_big))]
    probs = slot_probs(tokens, chosen, ALPACA.parser, ALPACA.score_line.values)
    shown = verdict_probs(probs, ALPACA.parser)
    original = og.alpacaeval_logprob_parser(_top(lp_m, lp_big))  # 2 - P(m), shown order
    assert alpacaeval_preference([shown]) == pytest.approx(original, abs=1e-12)
    # Shown swapped (B as m): AlpacaEval maps the preference back with 3 - p.
    from judgecli.judging.debias import map_back

    back = map_back("BA", parse(ALPACA.parser, chosen), chosen, shown).probs
    assert alpacaeval_preference([back]) == pytest.approx(3 - original, abs=1e-12)
    assert alpacaeval_preference([shown, back]) == pytest.approx(1.5, abs=1e-12)


def test_alpacaeval_reply_other_than_one_identifier_fails() -> None:
    assert parse(ALPACA.parser, "M").verdict == "B" and parse(ALPACA.parser, " m\n").verdict == "A"
    for text in ("The", "M is better", "mM", ""):
        with pytest.raises(ParseFailure):
            parse(ALPACA.parser, text)
    assert alpacaeval_preference([None]) is None


def test_alpacaeval_local_judge_scores_the_one_token(tmp_path, tiny_judge, monkeypatch,
                                                     capsys) -> None:
    from conftest import read_jsonl, run_cli, write_jsonl

    src = write_jsonl(tmp_path / "pairs.jsonl", [
        {"id": 1, "question": "What is 2+2? {output_1}", "answer_a": "4", "answer_b": "5 {}"}])
    code, _, _ = run_cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                         "-t", "alpacaeval2", "-o", str(tmp_path / "o.jsonl"))
    judgment = read_jsonl(tmp_path / "o.jsonl")[0]["judgment"]
    assert code == 0 and judgment["mode"] == "score" and judgment["error"] is None
    for order in judgment["orders"]:
        assert order["text"] in ("m", "M")
        assert set(order["probs"]) == {"A", "B", "tie"} and order["probs"]["tie"] == 0.0
        assert abs(order["probs"]["A"] + order["probs"]["B"] - 1) < 1e-9


# -- every bundled data parser ---------------------------------------------------------

def test_bundled_data_parsers_never_raise_but_parse_failure() -> None:
    """No reply can stop a run (issue 14), for every parser a bundled template declares as
    data: the reader itself (not parse(), which would hide a raise) returns Parsed or raises
    ParseFailure, and slot_probs returns None or distributions."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from judgecli import available
    from judgecli.parsers.specs import decode, is_data
    from judgecli.parsers import Parsed

    names = sorted({t.parser for t in map(load_template, available()) if is_data(t.parser)})
    pieces = st.sampled_from(["[[", "]]", "[", "]", "[RESULT]", "Rating: [[", "[[A>>B]]",
                              "final decision is ", "Response 1", "tie", "m", "M", "٣", "9" * 5000,
                              "nan", "inf", "1_0", " ", "\n", "\r\n", "(", "/5", "out of 5",
                              "<<", ">", "=", "a", "b", "ſ", "İ"])
    replies = st.one_of(st.text(max_size=200), st.lists(pieces, max_size=30).map("".join))

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=replies, name=st.sampled_from(names))
    def check(text: str, name: str) -> None:
        try:
            out = decode(name).parse(text)
        except ParseFailure:
            pass
        else:
            assert isinstance(out, Parsed)
            assert out.verdict in ("A", "B", "tie") or (
                out.scores is not None and math.isfinite(out.scores[0]))
        tokens = [(text[:5], -0.1, [(text[:5], -0.1), ("m", -2.0)]), (text[5:], 0.0, [])]
        probs = slot_probs(tokens, text, name, ())
        assert probs is None or all(abs(sum(d.values()) - 1) < 1e-9 for d in probs)

    assert len(names) >= 6
    check()
