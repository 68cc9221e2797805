"""Gold labels from a separate file: ``--labels gold.jsonl``, joined to judgments by id.

Each line is ``{"id": ..., "label": ...}``: "A", "B" or "tie" for pairwise judgments, "pass"
or "fail" for binary ones, a number for single-answer grades. A label from this file
replaces one in the record; items the file does not name keep their own (or none). Ids
compare as in ``judge``: 3 and "3" are different ids.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..io.jsonl import display_name
from .codes import CODE, NO_LABEL, PASS
from .columns import BINARY, PAIR, as_number
from .load import Judgments, check_unique, id_hash, iter_records


@dataclass
class Labels:
    """Gold labels from a separate JSONL file of ``{"id": ..., "label": ...}`` lines."""

    file: str
    ids: np.ndarray
    lines: np.ndarray
    code: np.ndarray  # int8 verdict code (A / B / tie, pass / fail), -1 for a numeric label
    value: np.ndarray  # float64 numeric label, nan for a pairwise one


def read_labels(path: str) -> Labels:
    name = display_name(path)
    ids, lines, codes, values = array("q"), array("q"), array("b"), array("d")
    for line, record in iter_records(path):
        if "id" not in record:
            raise InputError("missing", file=name, line=line, field="id")
        label = record.get("label")
        if isinstance(label, str) and label in CODE:
            codes.append(CODE[label])
            values.append(math.nan)
        elif label is not None:
            values.append(as_number(label, "\"A\", \"B\", \"tie\", \"pass\", \"fail\" or a number",
                                    file=name, line=line, name="label"))
            codes.append(NO_LABEL)
        else:
            continue  # an unlabelled item: nothing to join
        ids.append(id_hash(record["id"], file=name, line=line))
        lines.append(line)
    out = Labels(name, np.array(ids, dtype=np.int64), np.array(lines, dtype=np.int64),
                 np.array(codes, dtype=np.int8), np.array(values, dtype=np.float64))
    check_unique(out.ids, out.lines, name)
    return out


def join_labels(judgments: Judgments, labels: Labels) -> None:
    """Set each item's label from ``labels`` by id (it replaces a label in the record)."""
    if not len(judgments) or not len(labels.ids):
        return
    order = np.argsort(labels.ids)
    sorted_ids = labels.ids[order]
    at = np.clip(np.searchsorted(sorted_ids, judgments.ids), 0, len(sorted_ids) - 1)
    found = sorted_ids[at] == judgments.ids
    source = order[at[found]]
    if judgments.kind in (PAIR, BINARY):
        codes = labels.code[source]
        if not _decided(judgments) and len(codes) and codes[0] != NO_LABEL:
            # Every verdict failed and no record had a label: nothing said whether the file
            # is pairwise or pass / fail, so the labels say it.
            judgments.kind = BINARY if codes[0] >= PASS else PAIR
        binary = judgments.kind == BINARY
        bad = np.flatnonzero((codes == NO_LABEL) | ((codes >= PASS) != binary))
        judgments.label = judgments.label.copy()
        judgments.label[found] = codes
    else:
        values = labels.value[source]
        bad = np.flatnonzero(np.isnan(values))
        judgments.label_value = judgments.label_value.copy()
        judgments.label_value[found] = values
    if len(bad):
        want = {PAIR: "\"A\", \"B\" or \"tie\"", BINARY: "\"pass\" or \"fail\""}.get(
            judgments.kind or "", "a number")
        raise InputError(f"expected {want} for {judgments.kind} judgments in "
                         f"{judgments.file}", file=labels.file,
                         line=int(labels.lines[source[bad[0]]]), field="label")


def _decided(judgments: Judgments) -> bool:
    """Whether any verdict or label of the file is known (a code >= 0), so its kind is."""
    return any(bool(np.any(column >= 0)) for column in (
        judgments.verdict, judgments.label, judgments.order_ab, judgments.order_ba))
