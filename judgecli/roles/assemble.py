"""From the ``judge`` command's options to the object that judges: one judge, a panel, a
reviewed judge or a cascade. Checks that need no model run first, so a wrong combination
fails before anything is loaded; each distinct judge is loaded once, however many panel
members or roles use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any

from ..backends import load_judge, split_spec
from ..backends.base import Judge
from ..backends.openai.pricing import Estimate
from ..errors import JudgecliError
from ..judging.runner import JudgeOptions, Judging, dry_run
from ..templates import Template, load_template


@dataclass
class Roles:
    """What ``judge`` was asked for, before anything is loaded."""

    judges: Sequence[str]
    templates: Sequence[str] = ("judgelm-pair",)
    options: JudgeOptions | None = None  # mode, swap, combine, max_new_tokens
    vote: str = "majority"
    review_judge: str | None = None
    review_template: str | None = None
    calibration: str | None = None
    fallback: Sequence[str] = ()  # the cascade's later stages, in order
    fallback_template: Sequence[str] = ()  # once for all, or once per fallback
    rubric: str | None = None  # --rubric: a bundled rubric in each template's {rubric}

    def template(self, name: str) -> Template:
        """A judging template by name or path, showing ``--rubric``'s rubric if given."""
        from ..templates.rubrics import with_rubric

        loaded = load_template(name)
        return with_rubric(loaded, self.rubric) if self.rubric else loaded

    def members(self) -> list[tuple[str, Template]]:
        """(judge spec, template) of each panel member, or of the one judge."""
        if not self.judges:
            raise JudgecliError("--judge is required (a model folder, a hub id, or "
                                "openai:MODEL)")
        templates = list(self.templates) or ["judgelm-pair"]
        if len(templates) == 1:
            templates = templates * len(self.judges)
        elif len(templates) != len(self.judges):
            raise JudgecliError(f"{len(self.judges)} --judge but {len(templates)} --template: "
                                "give one template for all, or one per judge, in order")
        return [(spec, self.template(name))
                for spec, name in zip(self.judges, templates, strict=True)]

    def check(self) -> None:
        """Refuse combinations that have no meaning, before loading a model."""
        panel = len(self.judges) > 1
        if bool(self.calibration) != bool(self.fallback):
            raise JudgecliError("the cascade needs both --calibration FILE and --fallback JUDGE")
        if len(self.fallback_template) > 1 and \
                len(self.fallback_template) != len(self.fallback):
            raise JudgecliError(f"{len(self.fallback)} --fallback but "
                                f"{len(self.fallback_template)} --fallback-template: give one "
                                "template for all, or one per fallback, in order")
        if panel and self.calibration:
            raise JudgecliError("the cascade calibrates one local judge; give one --judge")
        if panel and self.review_judge:
            raise JudgecliError("--review-judge reviews one judge's verdict; give one --judge")
        if self.review_judge and self.calibration:
            raise JudgecliError("--review-judge and the cascade cannot be combined")
        if panel:
            from .panel import VOTES

            if self.vote not in VOTES:
                raise JudgecliError(f"--panel-vote must be one of {', '.join(VOTES)}")
        if self.review_template and not self.review_judge:
            raise JudgecliError("--review-template needs --review-judge")

    def check_backend_options(self, api_options: dict[str, Any],
                              base_model: str | None, *, resample: int = 0,
                              ray_options: dict[str, Any] | None = None,
                              vllm_options: dict[str, Any] | None = None) -> None:
        """API options need an API judge; ``--base-model`` one local judge; --resample
        judges that sample; ``--ray`` a local judge (each local judge gets a pool; an API
        judge stays in the driver); the engine options (``--tensor-parallel`` ...) a vLLM
        judge."""
        if ray_options and self.backends() <= {"openai"}:
            raise JudgecliError("--ray: for local judges (one in each Ray actor); an API "
                                "judge needs none (--concurrency sets its requests in flight)")
        if api_options and "openai" not in self.backends():
            given = ", ".join("--no-cache" if k == "cache" else "--" + k.replace("_", "-")
                              for k in api_options)
            raise JudgecliError(f"{given}: only for API judges (--judge openai:MODEL)")
        if vllm_options and "vllm" not in self.backends():
            given = ", ".join("--vllm-arg" if k == "vllm_args" else "--" + k.replace("_", "-")
                              for k in vllm_options)
            raise JudgecliError(f"{given}: only for vLLM judges (--judge vllm:MODEL)")
        if base_model and (len(self.judges) != 1 or split_spec(self.judges[0])[0] != "hf"):
            raise JudgecliError("--base-model: only for one local transformers judge (not "
                                "vllm:MODEL)")
        local = [j for j in self.judges if split_spec(j)[0] != "openai"]
        if resample and local:  # said before a model loads (judging.resample says the rest)
            raise JudgecliError(f"--resample: judge '{local[0]}' decodes greedily, so asking "
                                "again gives the same reply; re-sample an API judge with a "
                                "--temperature above 0 (prometheus-eval re-samples at 1.0)")

    def review_member(self, first: Template) -> tuple[str, Template] | None:
        """(reviewer spec, review template) when there is a reviewer; checked against the
        first judge's template."""
        if not self.review_judge:
            return None
        from .review import check_review_templates

        template = load_template(self.review_template or _default_review(first))
        check_review_templates(first, template)
        return self.review_judge, template

    def backends(self) -> set[str]:
        specs = [*self.judges, self.review_judge, *self.fallback]
        return {split_spec(s)[0] for s in specs if s}


@dataclass
class Assembled:
    judging: Any  # Judging, Panel, Review or Cascade: anything with judge_items
    judges: list[Judge] = field(default_factory=list)  # each loaded judge once, to close
    cascade: Any = None


def assemble(roles: Roles, *, batch_size: int | None = None,
             api_options: dict[str, Any] | None = None,
             local_options: dict[str, Any] | None = None, truncate: bool = False,
             ray_options: dict[str, Any] | None = None,
             vllm_options: dict[str, Any] | None = None) -> Assembled:
    """Load every judge the roles name and wrap them. ``api_options`` go to API judges,
    ``vllm_options`` (tensor parallel, memory share, dtype, engine arguments) to vLLM
    judges, ``local_options`` (``base_model``) to the first local judge only, ``ray_options``
    (--ray) to every local judge; ``truncate`` (--truncate) to every judge."""
    roles.check()
    options = roles.options or JudgeOptions(template=load_template("judgelm-pair"))
    members = roles.members()
    if len(members) > 1:
        from .panel import check_panel_templates

        check_panel_templates([template for _, template in members])
    review = roles.review_member(members[0][1])
    if review is not None:
        if options.mode == "auto":
            # The reviewer should see the first judge's reasoning, not only its score line.
            options = replace(options, mode="explain")
    fitted = None
    if roles.calibration:
        from ..calibration.files import check_fits, load_calibration

        from ..calibration.stages import stages_of
        from .cascade import check_stages

        fitted = load_calibration(roles.calibration)
        # Refuse a calibration of other judges, or of another number of stages, before
        # loading anything.
        check_stages(fitted, len(roles.fallback), roles.calibration)
        specs = [roles.judges[0], *roles.fallback]
        templates = [members[0][1].name, *_fallback_templates(roles, members[0][1].name)]
        for number, stage in enumerate(stages_of(fitted), start=1):
            check_fits(stage, specs[number - 1], templates[number - 1],
                       roles.calibration if number == 1 else
                       f"{roles.calibration} (stage {number})")

    out = Assembled(judging=None)
    loaded: dict[str, Judge] = {}

    def judge_for(spec: str, extra: dict[str, Any] | None = None) -> Judge:
        if spec not in loaded:
            backend = split_spec(spec)[0]
            kwargs = dict(api_options or {}) if backend == "openai" else \
                {**(extra or {}), **(ray_options or {})}
            if backend == "vllm":
                kwargs.update(vllm_options or {})
            loaded[spec] = load_judge(spec, batch_size=batch_size, **kwargs)
            loaded[spec].truncate = truncate
            out.judges.append(loaded[spec])
        return loaded[spec]

    try:
        judgings = [Judging(judge_for(spec, local_options if number == 0 else None),
                            replace(options, template=template))
                    for number, (spec, template) in enumerate(members)]
        if len(judgings) > 1:
            from .panel import Panel

            out.judging = Panel(judgings, roles.vote)
        elif review is not None:
            from .review import Review

            reviewer = Judging(judge_for(review[0]),
                               replace(options, template=review[1], mode="auto", resample=0))
            out.judging = Review(judgings[0], reviewer)
        elif roles.calibration and roles.fallback and fitted is not None:
            from .cascade import Cascade

            first = members[0][1]
            strong = [Judging(judge_for(spec),
                              replace(options, mode="auto", resample=0,
                                      template=first if name == first.name
                                      else roles.template(name)))
                      for spec, name in zip(roles.fallback,
                                            _fallback_templates(roles, first.name))]
            out.cascade = out.judging = Cascade(judgings[0], strong, fitted, roles.calibration)
        else:
            out.judging = judgings[0]
    except BaseException:
        for judge in out.judges:
            judge.close()
        raise
    return out


def _fallback_templates(roles: Roles, first: str) -> list[str]:
    """Each fallback's template: --fallback-template once for all or once each (default:
    the local judge's)."""
    given = list(roles.fallback_template) or [first]
    return given * len(roles.fallback) if len(given) == 1 else given


def _default_review(first: Template) -> str:
    if first.kind == "pair":
        return "review-pair"
    return "review-binary" if first.parser == "pass-fail" else "review-single"


def show_prompts(input_path: str, options: JudgeOptions,
                 members: Sequence[tuple[str | None, Template]], out: IO[str], *,
                 mapping: dict[str, str] | None = None, price_in: float | None = None,
                 price_out: float | None = None,
                 review: tuple[str, Template] | None = None, batch: bool = False,
                 api: str = "chat") -> tuple[int, list[Estimate]]:
    """``--dry-run``: print each distinct template's prompts once; estimate the cost of
    every API member (its prompts counted even when another member printed them), and of an
    API reviewer. A review prompt holds the first judge's text, unknown before judging: it
    is counted as empty, plus at most ``max_new_tokens`` tokens a request for that text.
    ``batch``: at the Batch API's price (``api``: how the prompts are sent)."""
    # One pass over the input per distinct template, feeding every member's estimate.
    by_template: dict[str, tuple[Template, list[Estimate]]] = {}
    estimates = []
    for spec, template in members:
        estimate = _estimate(spec, options, price_in, price_out, batch=batch, api=api)
        by_template.setdefault(template.name, (template, []))[1].extend(
            [estimate] if estimate is not None else [])
        if estimate is not None:
            estimates.append(estimate)
    count = 0
    for template, feeds in by_template.values():
        count += dry_run(input_path, replace(options, template=template), out,
                         mapping=mapping, on_prompt=_each(feeds) if feeds else None)
    estimate = _estimate(review[0], options, price_in, price_out, role="reviewer",
                         unknown_tokens=options.max_new_tokens, batch=batch,
                         api=api) if review else None
    if review is not None and estimate is not None:
        estimates.append(estimate)
        dry_run(input_path, replace(options, template=review[1]), _Discard(),
                mapping=mapping, on_prompt=estimate.add,
                extra={"first_verdict": "[[A]]", "first_judgment": ""})
    return count, estimates


def _estimate(spec: str | None, options: JudgeOptions, price_in: float | None,
              price_out: float | None, **kwargs: Any) -> Estimate | None:
    if spec is None or split_spec(spec)[0] != "openai":
        return None
    return Estimate(split_spec(spec)[1], options.max_new_tokens, price_in=price_in,
                    price_out=price_out, **kwargs)


def _each(estimates: list[Estimate]) -> Callable[[Any], None]:
    def add(prompt: Any) -> None:
        for estimate in estimates:
            estimate.add(prompt)
    return add


class _Discard:
    """A sink for prompts that are counted, not printed (a review's)."""

    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass
