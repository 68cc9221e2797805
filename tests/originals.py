"""The original judges' prompt-building logic, re-stated for the tests.

These functions follow the published code step by step (cited per function) so that the
bundled templates can be checked against what the original code feeds its model. They are
kept apart from judgecli on purpose: an independent derivation, not a copy of ours.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

# baaivision/JudgeLM judgelm/llm_judge/common.py: conv_judge_pair and friends.
JL_SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."
JL_PROMPT = (
    "We would like to request your feedback on the performance of two AI assistants in "
    "response to the user question displayed above.\nPlease rate the helpfulness, relevance, "
    "accuracy, level of details of their responses. Each assistant receives an overall score "
    "on a scale of 1 to 10, where a higher score indicates better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for "
    "Assistant 1 and 2, respectively. The two scores are separated by a space. In the "
    "subsequent line, please provide a comprehensive explanation of your evaluation, avoiding "
    "any potential bias and ensuring that the order in which the responses were presented "
    "does not affect your judgment."
)
JL_PAIR = ("[Question]\n{question}\n\n[The Start of Assistant 1's Answer]\n{answer_1}\n\n"
           "[The End of Assistant 1's Answer]\n\n[The Start of Assistant 2's Answer]\n"
           "{answer_2}\n\n[The End of Assistant 2's Answer]\n\n[System]\n{prompt}\n\n")
JL_PAIR_REF = ("[Question]\n{question}\n\n[Reference Answer]\n{reference}\n\n"
               "[The Start of Assistant 1's Answer]\n{answer_1}\n\n"
               "[The End of Assistant 1's Answer]\n\n[The Start of Assistant 2's Answer]\n"
               "{answer_2}\n\n[The End of Assistant 2's Answer]\n\n[System]\n{prompt}\n\n")
NUM2WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
             8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen",
             14: "fourteen", 15: "fifteen", 16: "sixteen", 17: "seventeen", 18: "eighteen",
             19: "nineteen"}


def judgelm_pair(question, answer_1, answer_2, reference=None, appendix="### Response:"):
    """gen_model_judgement.py: system + '\\n' + template.format(...) + appendix."""
    if reference is None:
        body = JL_PAIR.format(question=question, answer_1=answer_1, answer_2=answer_2,
                              prompt=JL_PROMPT)
    else:
        body = JL_PAIR_REF.format(question=question, reference=reference, answer_1=answer_1,
                                  answer_2=answer_2, prompt=JL_PROMPT)
    return JL_SYSTEM + "\n" + body + appendix


def judgelm_single(question, reference, answer, with_reference_section):
    """gen_model_judgement_single.py: the reference answer is answer1 (Assistant 1), the
    graded answer answer2, appendix '### Response:10' (conv_judge_single*)."""
    return judgelm_pair(question, reference, answer,
                        reference if with_reference_section else None, "### Response:10")


def judgelm_multi(question, answers, reference=None):
    """gen_model_judgement_multi.py, for answers that do not contain the marker strings."""
    data_sample = judgelm_pair(question, answers[0], answers[1], reference)
    n = len(answers)
    if n > 2:
        pos = data_sample.find("[System]")
        new_answer = ""
        for i in range(2, n):
            new_answer += ("[The Start of Assistant " + str(i + 1) + "'s Answer]\n" + answers[i]
                           + "\n\n" + "[The End of Assistant " + str(i + 1) + "'s Answer]\n\n")
        data_sample = data_sample[:pos] + new_answer + data_sample[pos:]
        data_sample = data_sample.replace("of two AI assistants", f"of {NUM2WORDS[n]} AI assistants")
        data_sample = data_sample.replace("containing only two values indicating ",
                                          f"containing only {NUM2WORDS[n]} values indicating ")
        data_sample = data_sample.replace("for Assistant 1 and 2", "for Assistant 1")
        after = "for Assistant 1"
        pos = data_sample.find(after) + len(after)
        new_answer = ""
        for i in range(n - 2):
            new_answer += f", {i + 2}"
        new_answer += f" and {n}"
        data_sample = data_sample[:pos] + new_answer + data_sample[pos:]
        data_sample = data_sample.replace("The two scores are", f"The {NUM2WORDS[n]} scores are")
    return data_sample


# WeOpenML/PandaLM pandalm/utils/pandalm_inference.py: build_pandalm_prompt.
PANDALM_SPECIAL = re.compile(
    r"<unk>|<pad>|<s>|</s>|\[PAD\]|<\|endoftext\|>|\[UNK\]|\[CLS\]|\[MASK\]|<\|startofpiece\|>"
    r"|<\|endofpiece\|>|\[gMASK\]|\[sMASK\]")


def pandalm(instruction, input, resp1, resp2):
    resp1 = PANDALM_SPECIAL.sub("", resp1.strip()).strip()
    resp2 = PANDALM_SPECIAL.sub("", resp2.strip()).strip()
    rsp = f"### Response 1:\n{resp1}\n\n### Response 2:\n{resp2}"
    if input:
        return ("Below are two responses for a given task. The task is defined by the "
                "Instruction with an Input that provides further context. Evaluate the responses "
                "and generate a reference answer for the task.\n\n### Instruction:\n"
                f"{instruction}\n\n### Input:\n{input}\n\n{rsp}\n\n### Evaluation:\n")
    return ("Below are two responses for a given task. The task is defined by the Instruction. "
            "Evaluate the responses and generate a reference answer for the task.\n\n"
            f"### Instruction:\n{instruction}\n\n{rsp}\n\n### Evaluation:\n")


def fastchat_prompts() -> dict[str, dict]:
    path = Path(__file__).parent / "data" / "fastchat_judge_prompts.jsonl"
    return {d["name"]: d for d in map(json.loads, path.read_text().splitlines())}
