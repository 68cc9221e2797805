"""An excerpt of lmarena/arena-hard-auto's own code (Apache License 2.0), run by
tests/test_style_control.py to check ``--style-control`` against the original. Arena-Hard-Auto
is not a package that pip installs, so its functions are copied here unchanged apart from
what is marked "changed:", and only for the tests; judgecli's own code is written apart
(judgecli/report/style.py, judgecli/report/answer_style.py).

* utils/add_markdown_info.py at 3bab2949d60ff0eae3af80cbd4c869a818bb7dd6:
  ``count_markdown_elements``, ``remove_pattern``.
* utils/math_utils.py at a9e743cc0b2c769219d2c4dd573af3d6da17698b: ``BTModel``, ``bt_loss``,
  ``fit_pairwise_model``, ``bootstrap_pairwise_model``, ``one_hot_encode``,
  ``to_winrate_probabilities``.
* show_result.py at 005ac120c11d3a1bbc35b0408a926dbc614de9c7: ``load_judgments``'s
  ``label_to_score`` and the body of ``print_leaderboard_with_style_features``.
"""

# ruff: noqa
from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


# -- utils/add_markdown_info.py ----------------------------------------------------------
def count_markdown_elements(markdown_text, suffix):
    counters = {
        f"header_count{suffix}": {
            "h1": len(re.findall(r"^#{1}\s", markdown_text, re.MULTILINE)),
            "h2": len(re.findall(r"^#{2}\s", markdown_text, re.MULTILINE)),
            "h3": len(re.findall(r"^#{3}\s", markdown_text, re.MULTILINE)),
            "h4": len(re.findall(r"^#{4}\s", markdown_text, re.MULTILINE)),
            "h5": len(re.findall(r"^#{5}\s", markdown_text, re.MULTILINE)),
            "h6": len(re.findall(r"^#{6}\s", markdown_text, re.MULTILINE)),
        },
        f"list_count{suffix}": {
            "ordered": len(re.findall(r"^\s*\d+\.\s", markdown_text, re.MULTILINE)),
            "unordered": len(re.findall(r"^\s*[-*+]\s", markdown_text, re.MULTILINE)),
        },
        f"bold_count{suffix}": {
            "**": len(re.findall(r"\*\*[^*\n]+\*\*", markdown_text)),
            "__": len(re.findall(r"__[^_\n]+__", markdown_text)),
        },
    }
    return counters


def remove_pattern(answer, pattern):
    blocks = pattern.findall(answer)
    for block in blocks:
        answer = answer.replace(block, "")
    return answer


def metadata(answer, token_len):
    """v2.0 gen_answer.py's ``ans["metadata"]``. changed: the token count is given (the
    original counts tiktoken's gpt-4o tokens, which need a download)."""
    return {"token_len": token_len} | count_markdown_elements(
        remove_pattern(answer, re.compile("```([^`]*)```")), suffix="")


# -- utils/math_utils.py -----------------------------------------------------------------
class BTModel(nn.Module):
    def __init__(self, num_components):
        super().__init__()
        self.logits = nn.Parameter(
            nn.init.constant_(torch.empty(num_components), 0.5)
        )

    def forward(self):
        return self.logits, None


def bt_loss(
    logits: torch.Tensor,
    outcomes: torch.Tensor,
    alpha: float = 0.5,
    **kwargs,
):
    probs = torch.sigmoid(logits)
    loss = -(torch.log(probs) * outcomes + torch.log(1.0 - probs) * (1.0 - outcomes)).sum()
    return loss


def fit_pairwise_model(
    features: torch.Tensor,
    outcomes: torch.Tensor,
    loss_type: str = 'bt',
    indices: torch.Tensor = None,
    lr: float = 1.0,
    tol: float = 1e-9,
    max_epochs: int = 50
):
    model_cls = BTModel  # changed: REGISTER_MODELS[loss_type]
    loss_func = bt_loss  # changed: REGISTER_LOSSES[loss_type]

    if indices is not None:
        features = features[indices]
        outcomes = outcomes[indices]

    model = model_cls(num_components=features.shape[1])

    optimizer = optim.LBFGS(
        model.parameters(),
        lr=lr,
        max_iter=max_epochs,
        tolerance_grad=tol,
        tolerance_change=tol,
    )

    def closure():
        optimizer.zero_grad()
        logits, eta = model()

        _logits = features @ logits

        loss = loss_func(
            logits=_logits,
            outcomes=outcomes,
            eta=eta
        )
        loss.backward()
        return loss

    optimizer.step(closure)

    logits, eta = model()
    return logits.detach(), eta if eta is None else eta.detach()


def bootstrap_pairwise_model(
    features: torch.Tensor,
    outcomes: torch.Tensor,
    loss_type: str = "bt",
    num_round: int = 100,
):
    boot_idxs = np.random.randint(
        low=0, high=features.shape[0],
        size=(num_round, features.shape[0])
    )

    # changed: range(num_round) instead of tqdm(range(num_round))
    results = [fit_pairwise_model(features, outcomes, loss_type, boot_idxs[i]) for i in range(num_round)]

    logit_stacks = torch.stack([result[0] for result in results])

    if results[0][1] is not None:
        eta_stacks = torch.stack([result[1] for result in results])
    else:
        eta_stacks = None

    return logit_stacks, eta_stacks


def one_hot_encode(items, baseline="o3-mini-2025-01-31"):
    unique_items = sorted(set(items + [baseline]))
    item_to_index = {item: idx for idx, item in enumerate(unique_items)}

    one_hot_matrix = []

    for item in items:
        one_hot_vector = [0] * len(unique_items)
        one_hot_vector[item_to_index[item]] = 1
        one_hot_vector[item_to_index[baseline]] = -1
        one_hot_matrix.append(one_hot_vector)

    return torch.tensor(one_hot_matrix, dtype=torch.float32), unique_items


def to_winrate_probabilities(
    coefs,
    models,
    baseline_model="o3-mini-2025-01-31",
):
    baseline_idx = models.index(baseline_model)

    exp_coefs = torch.exp(coefs)
    probs = torch.zeros(coefs.shape[0], coefs.shape[1])

    for idx in range(len(models)):
        if models[idx] == baseline_model:
            probs[:, idx] = 0.5
        probs[:, idx] = exp_coefs[:, idx] / (exp_coefs[:, idx] + exp_coefs[:, baseline_idx])

    return probs


# -- show_result.py ----------------------------------------------------------------------
def label_to_score(weight=3):
    return {
        "A>B": [1],
        "A>>B": [1] * weight,
        "A=B": [0.5],
        "A<<B": [0] * weight,
        "A<B": [0],
        "B>A": [0],
        "B>>A": [0] * weight,
        "B=A": [0.5],
        "B<<A": [1] * weight,
        "B<A": [1],
    }


def judgment_scores(games, weight=3):
    """load_judgments: one judgment's battle scores (games[0] shows the baseline first)."""
    scores = label_to_score(weight)
    return scores[games[1]['score']] + [1 - s for s in scores[games[0]['score']]]


def style_leaderboard(battle_models, battle_scores, model_features, baseline_features,
                      baseline):
    """The body of print_leaderboard_with_style_features with control_features
    ["markdown", "length"]. changed: the battles come as lists (the model of each battle
    row, its score) and each row's metadata dicts directly, instead of a DataFrame and the
    answer files; pandas' ``table.quantile(q)`` (linear) is ``np.quantile(..., axis=0)``.
    Returns (the models, the median, 5% and 95% win rates, the median feature coefs)."""
    model_feature_tensor = torch.tensor([
        [v if isinstance(v, int) else sum(v.values()) for k, v in metadata.items()]
        for metadata in model_features
    ], dtype=torch.float32)

    baseline_feature_tensor = torch.tensor([
        [v if isinstance(v, int) else sum(v.values()) for k, v in metadata.items()]
        for metadata in baseline_features
    ], dtype=torch.float32)

    final_feature_tensor = torch.zeros_like(model_feature_tensor)
    final_feature_tensor[:, 0] = (
        model_feature_tensor[:, 0] - baseline_feature_tensor[:, 0]
    ) / (
        model_feature_tensor[:, 0] + baseline_feature_tensor[:, 0]
    )

    model_md_density = model_feature_tensor[:, 1:] / model_feature_tensor[:, :1]
    baseline_md_density = baseline_feature_tensor[:, 1:] / baseline_feature_tensor[:, :1]

    final_feature_tensor[:, 1:] = (
        model_md_density - baseline_md_density
    ) / (
        model_md_density + baseline_md_density + 1
    )

    normalized_feature_tensor = (
        final_feature_tensor - torch.mean(final_feature_tensor, axis=0)
    ) / torch.std(
        final_feature_tensor, axis=0
    )

    outcomes = torch.tensor(battle_scores)

    model_features, unique_models = one_hot_encode(
        battle_models,
        baseline=baseline
    )
    all_features = torch.cat([model_features, normalized_feature_tensor], dim=1)
    num_features = 4

    coefs, _ = bootstrap_pairwise_model(all_features, outcomes, loss_type="bt")

    _coefs = coefs[:, :-num_features]

    table = to_winrate_probabilities(_coefs, unique_models, baseline_model=baseline).numpy()
    median, lower, upper = (np.quantile(table, q, axis=0) for q in (0.5, 0.05, 0.95))
    feature_coefs = torch.quantile(coefs[:, -num_features:], 0.5, axis=0)
    return unique_models, median, lower, upper, feature_coefs.numpy()
