"""Judgment records of the newer kinds, built by hand as ``judgecli judge`` writes them: binary
(pass / fail) judgments, panels (``judgment.panel``) and reviews (``judgment.review``).

The panel's own fields (verdict, votes, agreement) are worked out here with plain loops, as
judgecli/roles/panel.py describes them, so the report is checked against the records' own numbers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from test_report_helpers import record


def binary_judgment(verdict: str | None, *, confidence: float | None = None,
                    error: str | None = None, judge: str = "tiny",
                    template: str = "safety-binary") -> dict[str, Any]:
    """A pass / fail judgment of one answer: a verdict, no ``score`` key, one order."""
    if verdict is None and error is None:
        error = "unparseable: no [[PASS]] or [[FAIL]] verdict in the judgment"
    if error is not None:
        verdict = confidence = None
    probs = None if confidence is None else {
        verdict: confidence, ("fail" if verdict == "pass" else "pass"): 1 - confidence}
    return {"judge": judge, "template": template, "mode": "explain", "verdict": verdict,
            "confidence": confidence, "consistent": None, "error": error,
            "orders": [{"order": "AB", "text": f"ok [[{str(verdict).upper()}]]", "scores": None,
                        "score_a": None, "score_b": None, "verdict": verdict, "probs": probs,
                        "error": error}]}


def binary(i: Any, verdict: str | None, *, label: str | None = None,
           confidence: float | None = None, error: str | None = None,
           **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": i, "question": "q", "answer": "an answer"}
    if label is not None:
        out["label"] = label
    out.update(extra)
    out["judgment"] = binary_judgment(verdict, confidence=confidence, error=error)
    return out


def pair_judgment(verdict: str | None, *, judge: str = "tiny",
                  template: str = "judgelm-pair", confidence: float | None = None,
                  ab: str | None = "same", ba: str | None = "same") -> dict[str, Any]:
    """An ordinary pairwise judgment (None: failed)."""
    judgment = record(0, verdict, ab=ab, ba=ba, confidence=confidence,
                      error=None if verdict else "AB: unparseable",
                      order_errors=(verdict is None, False))["judgment"]
    judgment.update(judge=judge, template=template)
    return judgment


def grade_judgment(score: float | None, *, judge: str = "tiny",
                   template: str = "judgelm-single") -> dict[str, Any]:
    return {"judge": judge, "template": template, "mode": "score", "verdict": None,
            "score": score, "confidence": None, "consistent": None,
            "error": None if score is not None else "unparseable: 'x'",
            "orders": [{"order": "AB", "text": "7", "scores": [score],
                        "error": None if score is not None else "unparseable: 'x'"}]}


def agreement(values: list[Any]) -> float | None:
    """The share of agreeing pairs among the members that gave a value."""
    given = [v for v in values if v is not None]
    if len(given) < 2:
        return None
    pairs = [(a, b) for n, a in enumerate(given) for b in given[n + 1:]]
    return sum(a == b for a, b in pairs) / len(pairs)


def panel(i: Any, members: list[dict[str, Any]], *, label: Any = None, vote: str = "majority",
          **extra: Any) -> dict[str, Any]:
    """A panel's record: the members' judgments and the panel's own (majority) judgment."""
    grades = "score" in members[0]
    key = "score" if grades else "verdict"
    given = [m[key] for m in members if m.get("error") is None and m[key] is not None]
    out: dict[str, Any] = {"id": i, "question": "q", "answer_a": "a", "answer_b": "b"}
    if label is not None:
        out["label"] = label
    out.update(extra)
    judgment: dict[str, Any] = {"judge": "panel", "template": members[0]["template"],
                                "vote": vote}
    if not given:
        judgment.update({key: None, "confidence": None, "consistent": None,
                         "error": "every panel member failed", "votes": {},
                         "abstained": len(members), "agreement": None})
    else:
        top = Counter(given).most_common(1)[0][0]
        value = sorted(given)[len(given) // 2] if grades else top
        judgment.update({key: value, "confidence": None, "consistent": None, "error": None,
                         "votes": {str(k): v for k, v in Counter(given).items()},
                         "abstained": len(members) - len(given),
                         "agreement": agreement(given)})
    judgment["panel"] = members
    out["judgment"] = judgment
    return out


def reviewed(first: dict[str, Any], review: dict[str, Any] | None) -> dict[str, Any]:
    """A record with ``judgment.review`` (None: the item was not reviewed)."""
    if review is None:
        return first
    judgment = first["judgment"]
    key = "score" if "score" in judgment else "verdict"
    after = review.get(key) if review.get("error") is None else None
    review = {**review, "first_verdict": judgment[key],
              "changed": None if after is None else after != judgment[key]}
    return {**first, "judgment": {**judgment, "review": review}}
