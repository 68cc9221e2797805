"""judgecli's Prometheus 2 and AlpacaEval 2 readings against the published packages
themselves (prometheus-eval 0.1.20, alpaca-eval 0.6.6, installed from PyPI in their own
environment: tests/originals_installed.py), on generated replies: several markers, markers
inside the feedback, trailing text, unicode digits, tiny and missing logprobs. Where the
original returns a number judgecli returns the same; where it returns none, or raises,
judgecli's judgment fails with a reason. Skipped, saying how to install them, without them.
"""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED_DATA, read_jsonl, write_jsonl
from fault_server import FaultServer
from originals_installed import VERSIONS, call

from judgecli import load_template
from judgecli.backends.openai.token_probs import read_reply, slot_probs
from judgecli.io.records import to_item
from judgecli.judging.confidence import alpacaeval_preference, read_from_top, verdict_probs
from judgecli.parsers import ParseFailure, parse

# -- generated replies ----------------------------------------------------------------------

PIECES = ["[RESULT]", "[RESULT] ", "[SCORE]", "Score:", "score", "score of ", "Result:",
          "[Result]:", "[Result] Response ", "[RESULT: ", "[Response ", "Response", "A", "B",
          "a", "b", "C", "4", "5", "1", "0", "12", "٤", "４", "𝟓", "9" * 4400, " ", "  ", "\n",
          "\r\n", "\t", "/5", "/ 5", " out of 5", "OUT OF 5", "(", ")", "[", "]", ".", "\u2028",
          "\x0b", "\x85", "Feedback: the response is clear. ", "so the score is 3 of 5. ",
          "Response A is better than Response B. ", "Thanks!"]


def replies(seed: int, n: int) -> list[str]:
    """Feedback with markers in it, several markers, trailing text, odd digits and spaces."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14)))
        if rng.random() < 0.4:  # the prompt's format, with whatever may follow it
            text += rng.choice(["[RESULT] ", "[RESULT]", "[RESULT] Response "]) + \
                rng.choice(["4", "A", "B", "2", "٣", "5/5", "3 out of 5"]) + \
                rng.choice(["", "\n", " ", ".", "\n[RESULT] 5", "\nThanks.", " ]", "]"])
        out.append(text)
    return out


HAND = ["[RESULT] 4\n[RESULT] 5", "Feedback [RESULT] 3 and then [RESULT] 5", "[RESULT] 4.",
        "x [RESULT] 4\nthanks", "[RESULT] A\n[RESULT] B", "[RESULT] B\nok", "Score: 4",
        "[RESULT] ٤", "[RESULT] ４", "[RESULT] " + "1" * 5000, "[RESULT] 3 / 5", " Result: A"]


def _ours(template: str, text: str) -> Any:
    try:
        parsed = parse(load_template(template).parser, text)
    except ParseFailure:
        return None
    return parsed.verdict if parsed.scores is None else parsed.scores[0]


def test_installed_versions() -> None:
    assert call("versions") == VERSIONS


def test_prometheus_parser_equals_parser_py() -> None:
    texts = HAND + replies(1, 3000)
    original = call("prometheus_parse", {"texts": texts})
    read = {"absolute": 0, "relative": 0}
    for text, theirs in zip(texts, original, strict=True):
        for mode in ("absolute", "relative"):
            ours = _ours(f"prometheus-{mode}", text)
            expected = None if isinstance(theirs[mode], dict) else theirs[mode]  # raised
            assert ours == expected, (mode, text[:200], theirs)
            read[mode] += expected is not None
    # The generated replies are not all refused: each mode reads hundreds of them.
    assert read["absolute"] > 250 and read["relative"] > 250, read
    # The one the original crashes on (int() of 5,000 digits) fails here with its reason.
    assert "raises" in original[HAND.index("[RESULT] " + "1" * 5000)]["absolute"]


def _served(tmp_path: Path, template: str, texts: list[str], rows: list[dict[str, Any]],
            *extra: str) -> list[dict[str, Any]]:
    """Judge ``rows`` through a loopback OpenAI server whose reply to ITEM-k is texts[k]."""
    src = write_jsonl(tmp_path / f"{template}.jsonl", rows)
    out = tmp_path / f"{template}.out.jsonl"
    by_tag = {str(r["id"]): t for r, t in zip(rows, texts, strict=True)}
    reply = (lambda prompt: by_tag[re.search(r"ITEM-(\w+)", prompt).group(1)])  # noqa: E731
    env = {"OPENAI_API_KEY": "sk-test", "PATH": "", "PYTHONPATH": str(Path(__file__).parents[1]),
           "JUDGECLI_CACHE_DIR": str(tmp_path / "cache")}
    with FaultServer(reply=reply) as server:
        proc = subprocess.run([sys.executable, "-m", "judgecli", "judge", str(src), "--judge",
                               "openai:gpt-4o", "--base-url", server.url, "-t", template,
                               "-q", "-o", str(out), *extra], env=env, capture_output=True,
                              text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    return read_jsonl(out)


def test_prometheus_judgments_equal_prometheus_eval(tmp_path: Path) -> None:
    """Whole runs through an API judge: each judgment's score (absolute) or verdict
    (relative, one order) is parse_output's of the reply as LiteLLM gives it (stripped)."""
    texts = [t for t in HAND + replies(2, 400) if len(t) < 4000]
    original = call("prometheus_parse", {"texts": [t.strip() for t in texts]})
    absolute = _served(tmp_path, "prometheus-absolute", texts, [
        {"id": k, "question": f"ITEM-{k} q", "answer": "r", "rubric": "[r?]"}
        for k in range(len(texts))])
    relative = _served(tmp_path, "prometheus-relative", texts, [
        {"id": k, "question": f"ITEM-{k} q", "answer_a": "x", "answer_b": "y", "rubric": "[r]"}
        for k in range(len(texts))], "--no-swap")
    for text, theirs, a, r in zip(texts, original, absolute, relative, strict=True):
        a, r = a["judgment"], r["judgment"]
        assert a["score"] == theirs["absolute"], (text, a)
        assert r["verdict"] == theirs["relative"], (text, r)
        for judgment, value in ((a, theirs["absolute"]), (r, theirs["relative"])):
            assert (judgment["error"] is None) == (value is not None)
            if value is None:
                assert "unparseable: " in judgment["error"]


ITEMS = [("plain", "answer"), ("braces {answer} {{x}} {response_A}", "emoji 😀 and\r\nCRLF"),
         ("", "  spaced \n"), ('"""quotes""" [RESULT] 5', "{instruction}")]


@pytest.mark.parametrize("ref", [False, True])
@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_prometheus_prompts_equal_prometheus_eval(mode: str, ref: bool) -> None:
    """The messages PrometheusEval sends an API judge, and the one prompt it builds for a vLLM
    judge (the -mistral templates), for awkward items."""
    rows = []
    for k, (q, r) in enumerate(ITEMS):
        row: dict[str, Any] = {"question": f"Q{k} {q}", "rubric": f"[Is it {r}?]\nScore 1: no"}
        if mode == "absolute":
            row["answer"] = f"R {r}"
        else:
            row.update(answer_a=f"A {r}", answer_b=f"B {q}")
        if ref:
            row["reference"] = f"Ref {q}"
        rows.append(row)
    theirs = call("prometheus_grade", {"mode": mode, "items": rows})
    name = f"prometheus-{mode}" + ("-ref" if ref else "")
    for row, messages, mistral in zip(rows, theirs["messages"], theirs["mistral"], strict=True):
        item = to_item(row, file="t.jsonl", line=1)
        args = () if mode == "absolute" else ("AB",)
        assert [dict(m) for m in load_template(name).render(item, *args).messages] == messages
        assert load_template(name + "-mistral").render(item, *args).text == mistral


# -- AlpacaEval 2 -----------------------------------------------------------------------------

ALPACA = load_template("alpacaeval2")


def _choice(text: str, top: list[tuple[str, float]], sampled_lp: float = -0.1) -> dict:
    return {"index": 0, "finish_reason": "length", "message": {"role": "assistant",
                                                               "content": text},
            "logprobs": {"content": [{"token": text, "logprob": sampled_lp, "bytes": [],
                                      "top_logprobs": [{"token": t, "logprob": lp, "bytes": []}
                                                       for t, lp in top]}]}}


def logprob_cases(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    tokens = ["m", "M", "Neither", "Both", " m", "M ", "The", "\n", "mM", "Based"]
    small = [-745.0, -746.0, -800.0, -1e4, -1e-9, 0.0, 0.3, -0.5, -2.0, -13.4]
    out = []
    for _ in range(n):
        top = [(rng.choice(tokens), rng.choice(small) if rng.random() < 0.4 else
                -rng.expovariate(0.3)) for _ in range(rng.randint(0, 6))]
        out.append(_choice(rng.choice(["m", "M", "Neither", "The"]), top))
    return out


def _reading(choice: dict) -> tuple[float | None, str | None]:
    """judgecli's reading of one reply: (preference, or None, and why)."""
    reply = read_reply({"choices": [choice], "usage": {}}, chat=True)
    if not reply["tokens"]:
        return None, "no logprobs"
    try:
        probs = slot_probs(reply["tokens"], reply["text"], ALPACA.parser, ("m", "M"))
    except ParseFailure as exc:
        return None, str(exc)
    assert read_from_top(probs, ALPACA.parser) is not None
    return alpacaeval_preference([verdict_probs(probs, ALPACA.parser)]), None


def _compare(choices: list[dict]) -> int:
    """Each reading equals logprob_parser's; the count of replies with a preference."""
    theirs = call("alpaca_logprob", {"completions": choices})
    numbers = 0
    for choice, value in zip(choices, theirs, strict=True):
        ours, why = _reading(choice)
        if isinstance(value, dict) or value[0] == "nan":  # it raises, or gives NaN
            assert ours is None and why, (choice, value)
            continue
        assert ours is not None and math.isclose(ours, value[0], rel_tol=0, abs_tol=1e-12), \
            (choice, value, ours)
        numbers += 1
    return numbers


def test_alpacaeval_reading_equals_logprob_parser() -> None:
    edge = [_choice("Neither", [("Neither", -0.1), ("m", -3.0), ("M", -4.0)]),
            _choice("m", [("m", -745.0), ("M", -800.0)]),
            _choice("m", [("m", -800.0), ("M", -800.0)]),
            _choice("M", [("M", -1e-9)]), _choice("m", []), _choice("M", [("The", -0.1)]),
            _choice("m", [("m", -1.0), ("m", -3.0), ("M", -2.0)]),  # the last m counts
            _choice("M", [("m", 0.5), ("M", 0.2)]),
            {"index": 0, "message": {"role": "assistant", "content": "M"},
             "logprobs": {"content": []}}]
    assert _compare(edge + logprob_cases(3, 600)) > 200  # and the rest fail with a reason


def test_alpacaeval_reading_equals_logprob_parser_on_real_annotations() -> None:
    """The replies of AlpacaEval 2's published annotations that kept their logprobs
    (../shared/data/alpacaeval), the "Neither" ones included."""
    files = sorted((SHARED_DATA / "alpacaeval").glob("*.annotations.json"))
    if not files:
        pytest.skip("../shared/data/alpacaeval is absent")
    choices = [r["raw_completion"] for f in files
               for r in json.loads(f.read_text(encoding="utf-8"))
               if isinstance(r.get("raw_completion"), dict)]
    assert sum(c.get("text") == "Neither" for c in choices) == 2
    assert _compare(choices) == len(choices)


class _Replies(BaseHTTPRequestHandler):
    """A loopback chat completions endpoint answering ITEM-k with the k-th scripted choice."""
    choices: list[dict] = []

    def log_message(self, *_: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = "\n".join(m["content"] for m in body["messages"])
        k = int(re.search(r"ITEM-(\d+)", prompt).group(1))
        data = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                           "choices": [self.choices[k]],
                           "usage": {"prompt_tokens": 10, "completion_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_alpacaeval2_judgments_equal_logprob_parser(tmp_path: Path) -> None:
    """A whole run: a reply "Neither" gets logprob_parser's preference (it had none in
    judgecli before), one without m or M fails naming why, never 2.0."""
    choices = [_choice("Neither", [("Neither", -0.1), ("m", -3.0), ("M", -4.0)]),
               _choice("The", [("The", -0.1), ("Based", -1.0)]),
               _choice("m", []), _choice("M", [("m", -745.0), ("M", -760.0)])] + \
        logprob_cases(4, 40)
    theirs = call("alpaca_logprob", {"completions": choices})
    _Replies.choices = choices
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rows = [{"id": k, "question": f"ITEM-{k} q", "answer_a": "a", "answer_b": "b"}
                for k in range(len(choices))]
        src = write_jsonl(tmp_path / "in.jsonl", rows)
        env = {"OPENAI_API_KEY": "sk-test", "PATH": "",
               "PYTHONPATH": str(Path(__file__).parents[1]),
               "JUDGECLI_CACHE_DIR": str(tmp_path / "cache")}
        proc = subprocess.run([sys.executable, "-m", "judgecli", "judge", str(src), "--judge",
                               "openai:gpt-4o", "--base-url",
                               f"http://127.0.0.1:{server.server_port}/v1", "-t", "alpacaeval2",
                               "--no-swap", "-q", "-o", str(tmp_path / "o.jsonl")],
                              env=env, capture_output=True, text=True, timeout=300)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    records = read_jsonl(tmp_path / "o.jsonl")
    for record, value in zip(records, theirs, strict=True):
        judgment = record["judgment"]
        if value[0] == "nan":
            assert judgment["preference"] is None and judgment["verdict"] is None
            assert re.search(r"unparseable: no (m or M|M or m) among the top logprobs of the "
                             r"reply's first token .*gives no preference \(NaN\)",
                             judgment["error"]), judgment["error"]
        else:
            assert math.isclose(judgment["preference"], value[0], abs_tol=1e-12)
            assert judgment["verdict"] == ("A" if value[0] < 1.5 else "B" if value[0] > 1.5
                                           else "tie")
    neither = records[0]["judgment"]
    assert neither["orders"][0]["text"] == "Neither" and neither["error"] is None
    assert math.isclose(neither["preference"], 2 - 1 / (1 + math.exp(-1.0)), abs_tol=1e-12)


def test_alpacaeval2_template_is_the_installed_annotator() -> None:
    theirs = call("alpaca_template")
    assert ALPACA.source and theirs["parser"] == "logprob_parser"
    assert json.loads(theirs["parser_kwargs"]) == {
        "numerator_token": "m", "denominator_tokens": ["m", "M"], "is_binarize": False}
    raw = json.loads((Path(__file__).parents[1] / "prompts" / "alpacaeval2.json")
                     .read_text(encoding="utf-8"))
    assert raw["text"] == theirs["prompt"]


# -- bundled rubrics by name, and re-sampling ---------------------------------------------------

def test_bundled_rubrics_are_prometheus_evals() -> None:
    theirs = call("prometheus_rubrics")
    from judgecli.templates.rubrics import named
    for criteria, text in theirs["absolute"].items():
        assert named(criteria) == text
        assert named(criteria).split("\n")[0] == theirs["relative"][criteria]
    assert named("prometheus-score-rubric") == theirs["score_rubric_template"]


@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_rubric_by_name_equals_load_rubric(mode: str, tmp_path: Path) -> None:
    """--rubric NAME, and a record whose rubric field is NAME, show what PrometheusEval sends
    with load_rubric(NAME, mode)."""
    from judgecli.templates.rubrics import with_rubric

    row = {"question": "Q {x}", "answer": "R"} if mode == "absolute" else \
        {"question": "Q {x}", "answer_a": "A", "answer_b": "B"}
    args = () if mode == "absolute" else ("AB",)
    for criteria in ("helpfulness", "harmlessness", "honesty", "factual_validity",
                     "reasoning"):
        theirs = call("prometheus_rubric_messages",
                      {"mode": mode, "criteria": criteria, "items": [row]})[0]
        template = with_rubric(load_template(f"prometheus-{mode}"), criteria)
        item = to_item(row, file="t.jsonl", line=1)
        assert [dict(m) for m in template.render(item, *args).messages] == theirs
        named = to_item({**row, "rubric": criteria}, file="t.jsonl", line=1)
        assert [dict(m) for m in load_template(f"prometheus-{mode}").render(
            named, *args).messages] == theirs
    # The command line: judge --rubric --dry-run prints those messages.
    src = write_jsonl(tmp_path / "in.jsonl", [row])
    proc = subprocess.run([sys.executable, "-m", "judgecli", "judge", str(src), "-t",
                           f"prometheus-{mode}", "--rubric", "reasoning", "--no-swap",
                           "--dry-run"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "", "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout.splitlines()[0])
    assert shown["template"] == f"prometheus-{mode}[reasoning]"
    assert shown["messages"] == call("prometheus_rubric_messages", {
        "mode": mode, "criteria": "reasoning", "items": [row]})[0]


def test_resample_equals_prometheus_evals_retries(tmp_path: Path) -> None:
    """--resample 10 re-asks as batch_completions_with_retries does (max_retries 10): the
    same score from the same sequence of replies, after as many askings of each prompt."""
    rng = random.Random(5)
    bad = ["no score here", "[RESULT] 4 but then more", "Score: 9", "[RESULT] 3.5", ""]
    good = ["Fine. [RESULT] 4", "[RESULT] (2)", "score of 5", "[RESULT] ٣"]
    scripts = []
    for _ in range(24):
        misses = rng.choice([0, 0, 1, 2, 5, 10, 11, 13])
        scripts.append([rng.choice(bad) for _ in range(misses)] + [rng.choice(good)])
    rows = [{"id": k, "question": f"ITEM-{k} q{k}", "answer": f"r{k}", "rubric": "[r]"}
            for k in range(len(scripts))]
    theirs = call("prometheus_grade", {"mode": "absolute", "scripts": scripts, "items": [
        {"question": r["question"], "answer": r["answer"], "rubric": r["rubric"]}
        for r in rows]})
    asked: dict[str, int] = {}

    def reply(prompt: str) -> str:
        tag = re.search(r"ITEM-(\w+)", prompt).group(1)
        n = asked[tag] = asked.get(tag, 0) + 1
        script = scripts[int(tag)]
        return script[min(n, len(script)) - 1]

    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    env = {"OPENAI_API_KEY": "sk-test", "PATH": "", "PYTHONPATH": str(Path(__file__).parents[1]),
           "JUDGECLI_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "judgecli", "judge", str(src), "--judge", "openai:gpt-4o",
               "-t", "prometheus-absolute", "--temperature", "1", "--resample", "10", "-q",
               "-o", str(out)]
    with FaultServer(reply=reply) as server:
        proc = subprocess.run([*command, "--base-url", server.url], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode in (0, 1), proc.stderr
        records = read_jsonl(out)
        for k, record in enumerate(records):
            judgment = record["judgment"]
            assert judgment["score"] == theirs["scores"][k]
            assert len(judgment["orders"][0]["attempts"]) == theirs["asked"][k] == \
                asked[str(k)]
            assert [a["text"] for a in judgment["orders"][0]["attempts"]] == [
                scripts[k][min(n, len(scripts[k]) - 1)] for n in range(theirs["asked"][k])]
        sent = server.total
        # --resume --retry-errors judges the failed ones again from the cache: nothing sent.
        proc = subprocess.run([*command, "--base-url", server.url, "--resume",
                               "--retry-errors"], env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode in (0, 1), proc.stderr
        assert server.total == sent
    assert read_jsonl(out) == records
    assert any(s is None for s in theirs["scores"]) and any(theirs["asked"][k] > 1 and
                                                            theirs["scores"][k] is not None
                                                            for k in range(len(scripts)))


def test_alpacaeval_win_rates_equal_get_winrate(tmp_path: Path) -> None:
    """report's AlpacaEval figures (win rate, standard error, discrete win rate, counts) are
    metrics/winrate.py get_winrate's: on the published annotations (../shared, where present)
    and on generated preferences with draws, extremes and missing ones (AlpacaEval drops
    those, as report does by default)."""
    from judgecli.report import ReportOptions, build_report
    from judgecli.report.convert import alpacaeval

    rng = random.Random(6)
    sets = [[rng.choice([1.0, 2.0, 1.5, None, rng.uniform(1, 2), round(rng.uniform(1, 2), 1)])
             for _ in range(rng.randint(3, 60))] for _ in range(30)]
    files = sorted((SHARED_DATA / "alpacaeval").glob("*.annotations.json"))
    sources = []
    for k, preferences in enumerate(sets):
        path = tmp_path / f"gen{k}.json"
        path.write_text(json.dumps([{"instruction": f"q{i}", "output_1": "a" * (i + 1),
                                     "output_2": "b" * (2 * i + 1), "generator_1": "base",
                                     "generator_2": "model", "preference": p}
                                    for i, p in enumerate(preferences)]), encoding="utf-8")
        sources.append(path)
    for path in files:
        sets.append([r.get("preference") for r in json.loads(path.read_text(encoding="utf-8"))])
        sources.append(path)
    theirs = call("alpaca_winrate", {"sets": sets})
    for source, expected in zip(sources, theirs, strict=True):
        judged = tmp_path / f"{source.stem}.jsonl"
        judged.write_text("".join(json.dumps(r) + "\n" for r in alpacaeval(str(source))),
                          encoding="utf-8")
        (summary,) = build_report([str(judged)], ReportOptions())
        for key in ("win_rate", "standard_error", "discrete_win_rate"):
            assert summary[f"alpacaeval_{key}"] == pytest.approx(expected[key], abs=1e-9), \
                (source.name, key)
        for key in ("n_wins", "n_wins_base", "n_draws", "n_total"):
            assert summary[f"alpacaeval_{key}"] == expected[key], (source.name, key)
