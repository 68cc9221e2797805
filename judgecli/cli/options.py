"""The options of the commands that judge (``judge``, ``compare``, ``calibrate``), declared
once.

Each option is an ``Annotated`` type (name, metavar, help, checks), and :class:`JudgingArgs`
is the one list of the shared ones with their defaults. :func:`judging_options` adds its
fields to a command's signature (Typer's parameter sharing: the command declares only its
own options and receives one ``args: JudgingArgs``); :mod:`judgecli.cli.run` turns the
values into the library's objects.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Annotated, Any

import typer

from ..errors import JudgecliError
from ..judging.choices import COMBINE_RULES, MODES, VOTES

APIS = ("chat", "completions")  # judgecli.backends.openai.judge.APIS (openai is not imported)


def choices(values: Sequence[str]) -> str:
    """The metavar of an option with fixed values: ``[a|b|c]``."""
    return "[" + "|".join(values) + "]"


def one_of(values: Sequence[str]) -> Callable[..., Any]:
    """A callback refusing a value outside ``values`` with the CLI's one-line error (None,
    an option left out, passes)."""
    def check(param: typer.CallbackParam, value: Any) -> Any:
        if value is not None and value not in values:
            raise JudgecliError(f"{param.opts[0]} must be one of {', '.join(values)}, not "
                                f"'{value}'")
        return value
    return check


def choice(values: Sequence[str], help: str, *decls: str) -> Any:
    return typer.Option(*decls, metavar=choices(values), callback=one_of(values), help=help)


# -- the options every judging command takes ------------------------------------------------
JudgeOpt = Annotated[list[str] | None, typer.Option(
    "--judge", "-j", metavar="MODEL",
    help="The judge: a local model folder or hub id, hf:PATH, vllm:PATH (the same local judge on "
         "vLLM's engine), a .gguf file, or openai:MODEL; "
         "several times for a panel (judge, compare). Left out: judge = ... in judgecli.toml "
         "or [tool.judgecli] in pyproject.toml, else $JUDGECLI_JUDGE (any judging option "
         "can be set so: README, Configuration).")]
TemplateOpt = Annotated[list[str] | None, typer.Option(
    "--template", "-t", metavar="TEMPLATE",
    help="A bundled template (judgecli templates) or a template .json file (default: chosen "
         "from the items, e.g. judgelm-pair-ref where they have a reference); for a panel, "
         "once for all or once per --judge.")]
RubricOpt = Annotated[str | None, typer.Option(
    metavar="NAME", help="A bundled rubric in the template's {rubric} (Prometheus): "
                         "helpfulness, harmlessness, honesty, factual_validity, reasoning "
                         "(prometheus-eval's load_rubric; its first line for two answers); "
                         "the records then need no rubric field.")]
ModeOpt = Annotated[str, choice(
    MODES, "score: only the score line, from next-token probabilities; explain: generate the "
           "whole judgment; auto: score where the template allows it.")]
SwapOpt = Annotated[bool, typer.Option(
    "--swap/--no-swap", help="Judge pairwise items in both orders and combine.")]
CombineOpt = Annotated[str, choice(
    COMBINE_RULES, "How both orders combine: strict (a winner only when both agree) or "
                   "average (each answer's scores averaged).")]
BatchSizeOpt = Annotated[int | None, typer.Option(
    min=1, metavar="N", help="Prompts per forward pass of a local judge (default: 8 on CPU; "
                             "on a GPU as many as fit in half its free memory, at most 256).")]
MaxNewTokensOpt = Annotated[int, typer.Option(
    min=1, metavar="N", help="The most tokens a judgment may take in explain mode.")]
ResampleOpt = Annotated[int, typer.Option(
    min=0, metavar="N", help="Re-ask a judge whose judgment does not parse, up to N times, "
                             "as prometheus-eval does (explain mode; a judge that samples: "
                             "--temperature above 0); every attempt is kept in the record.")]
TruncateOpt = Annotated[bool, typer.Option(
    "--truncate", help="Cut the answers of an item whose prompt and --max-new-tokens would "
                       "not fit the judge's context window (known OpenAI models; a local "
                       "judge's max_position_embeddings) to the most characters that fit, "
                       "and mark its judgment truncated; without it such an item is not "
                       "sent and its judgment's error names the length.")]
MapOpt = Annotated[list[str] | None, typer.Option(
    "--map", metavar="DST=SRC", help="Read a field from another one (repeatable; SRC may be a "
                                     "dotted path), e.g. --map question=prompt.")]
SkipInvalidOpt = Annotated[bool, typer.Option(
    "--skip-invalid", help="Write bad input lines to FILE.rejected.jsonl and go on without "
                           "them.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Judge nothing: print each prompt as JSON (id, order, template, prompt) "
                      "and the tokens and cost of API judges.")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar, nor notes such as the template chosen.")]
BaseModelOpt = Annotated[str | None, typer.Option(
    metavar="MODEL", help="The local judge's base model, for Huang et al.'s calibrated "
                          "indicator.")]
# vLLM judges (vllm:MODEL): the engine's options, passed through to vllm.LLM.
TensorParallelOpt = Annotated[int | None, typer.Option(
    min=1, metavar="N", help="vLLM judges: GPUs one copy of the model is split over "
                             "(vLLM's tensor_parallel_size; default 1).")]
DataParallelOpt = Annotated[int | None, typer.Option(
    min=1, metavar="N", help="vLLM judges: copies of the model, each on its own GPUs "
                             "(--tensor-parallel of them) in a process of its own, each "
                             "judging a share of every batch (default 1).")]
GpuMemoryOpt = Annotated[float | None, typer.Option(
    min=0.01, max=1.0, metavar="SHARE", help="vLLM judges: the share of each GPU's memory "
                                             "the engine may take (vLLM's "
                                             "gpu_memory_utilization; default 0.9).")]
DTYPES = ("auto", "bfloat16", "float16", "float32")
DtypeOpt = Annotated[str | None, choice(
    DTYPES, "vLLM judges: the weights' and activations' type (default: bfloat16 on a GPU, "
            "float32 on a CPU, as the transformers judge; auto: the checkpoint's).")]
VllmArgOpt = Annotated[list[str] | None, typer.Option(
    "--vllm-arg", metavar="KEY=VALUE", help="vLLM judges: any other vllm.LLM argument "
                                            "(repeatable; VALUE read as JSON where it is), "
                                            "e.g. --vllm-arg max_model_len=8192.")]
# API judges (openai:MODEL).
BaseUrlOpt = Annotated[str | None, typer.Option(
    metavar="URL", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (default: "
                        "$OPENAI_BASE_URL, else OpenAI's). The key is read from "
                        "$OPENAI_API_KEY.")]
ApiOpt = Annotated[str | None, choice(
    APIS, "chat (default), or completions: send completion templates as a raw prompt to "
          "/v1/completions (a server hosting a fine-tuned judge).")]
ConcurrencyOpt = Annotated[int | None, typer.Option(
    min=1, metavar="N", help="Requests in flight at once (default 16).")]
RpmOpt = Annotated[float | None, typer.Option(
    min=0.001, metavar="N", help="At most N requests a minute.")]
TpmOpt = Annotated[float | None, typer.Option(
    min=1, metavar="N", help="At most N tokens a minute (prompt estimate + max tokens).")]
TemperatureOpt = Annotated[float | None, typer.Option(
    min=0, metavar="T", help="Sampling temperature (default 0).")]
TimeoutOpt = Annotated[float | None, typer.Option(
    min=0.001, metavar="SECONDS", help="Before a request counts as timed out (default 60).")]
RetriesOpt = Annotated[int | None, typer.Option(
    min=0, metavar="N", help="Retries of a request after 429, 5xx, timeouts, dropped "
                             "connections or malformed replies (default 8).")]
MaxCostOpt = Annotated[float | None, typer.Option(
    min=0, metavar="USD", help="Stop before spending more than this; everything judged so "
                               "far is kept (finish with --resume).")]
PriceInOpt = Annotated[float | None, typer.Option(
    min=0, metavar="USD", help="Per million prompt tokens (default: the table of known "
                               "OpenAI models).")]
PriceOutOpt = Annotated[float | None, typer.Option(
    min=0, metavar="USD", help="Per million completion tokens.")]
CacheDirOpt = Annotated[str | None, typer.Option(
    metavar="DIR", help="Where replies are cached (default: $JUDGECLI_CACHE_DIR, else "
                        "$XDG_CACHE_HOME/judgecli).")]
NoCacheOpt = Annotated[bool, typer.Option(
    "--no-cache", help="Neither read nor write the reply cache.")]
BatchOpt = Annotated[bool, typer.Option(
    "--batch", help="Send API judges' requests through OpenAI's Batch API: half the price, "
                    "results within 24 hours; the batch ids are kept beside the output, so "
                    "the same command run again collects them without paying again.")]
# Many GPUs and machines (README, Scale).
RayOpt = Annotated[str | None, typer.Option(
    metavar="ADDRESS", help="Judge through a Ray cluster: a local judge loaded in each of a "
                            "pool of Ray actors (one a GPU, else one a CPU), windows handed "
                            "to whichever is free, records written here in input order. "
                            "ADDRESS: auto (the cluster `ray start` started on this machine, "
                            "else a local one for this run), HOST:PORT or ray://HOST:10001. "
                            "Needs pip install 'judgecli[ray]'.")]
RayActorsOpt = Annotated[int | None, typer.Option(
    min=1, metavar="N", help="With --ray: how many actors (default: one for each free GPU of "
                             "the cluster, else each free CPU).")]
# Roles beside the judge (judge and compare).
PanelVoteOpt = Annotated[str, choice(
    VOTES, "How a panel's verdicts combine (several --judge; see README).")]
ReviewJudgeOpt = Annotated[str | None, typer.Option(
    metavar="MODEL", help="A second-level judge that reviews each verdict and keeps or "
                          "overturns it.")]
ReviewTemplateOpt = Annotated[str | None, typer.Option(
    metavar="TEMPLATE", help="The reviewer's template (default: review-pair, review-single "
                             "or review-binary, after --template).")]
CalibrationOpt = Annotated[str | None, typer.Option(
    metavar="FILE", help="calibration.json from judgecli calibrate: with --fallback, "
                         "escalate the items it distrusts (the cascade).")]
FallbackOpt = Annotated[list[str] | None, typer.Option(
    metavar="MODEL", help="The stronger judge escalated items go to, e.g. openai:gpt-4o; "
                          "repeat it for a cascade of several stages, cheapest first "
                          "(calibrate --fallback J2 --fallback J3 calibrates each).")]
FallbackTemplateOpt = Annotated[list[str] | None, typer.Option(
    metavar="TEMPLATE", help="The fallback's template (default: --template); once for all "
                             "fallbacks or once per --fallback.")]
# Output files and summaries.
ResumeOpt = Annotated[bool, typer.Option(
    "--resume", help="Skip ids already in the output and append the rest.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SeedOpt = Annotated[int, typer.Option(metavar="N", help="Seed of the bootstrap intervals.")]
StyleControlOpt = Annotated[bool, typer.Option(
    "--style-control",
    help="Add Arena-Hard-Auto v2.0's style control: its Bradley-Terry fit against the "
         "baseline with the answers' length and markdown (headers, lists, bold) as features; "
         "prints the controlled scores and ratings beside the uncontrolled ones, and the "
         "style coefficients. The baseline: compare's first file; report's --baseline, "
         "else the model in every record.")]


@dataclass
class JudgingArgs:
    """The shared options of the judging commands, each with its one default."""

    judge: JudgeOpt = None
    template: TemplateOpt = None
    rubric: RubricOpt = None
    mode: ModeOpt = "auto"
    swap: SwapOpt = True
    combine: CombineOpt = "strict"
    batch_size: BatchSizeOpt = None
    max_new_tokens: MaxNewTokensOpt = 512
    resample: ResampleOpt = 0
    field_map: MapOpt = None
    resume: ResumeOpt = False
    force: ForceOpt = False
    skip_invalid: SkipInvalidOpt = False
    dry_run: DryRunOpt = False
    quiet: QuietOpt = False
    # Roles beside the judge (judge and compare).
    panel_vote: PanelVoteOpt = "majority"
    review_judge: ReviewJudgeOpt = None
    review_template: ReviewTemplateOpt = None
    calibration: CalibrationOpt = None
    fallback: FallbackOpt = None
    fallback_template: FallbackTemplateOpt = None
    # API judges (openai:MODEL).
    base_url: BaseUrlOpt = None
    api: ApiOpt = None
    concurrency: ConcurrencyOpt = None
    rpm: RpmOpt = None
    tpm: TpmOpt = None
    temperature: TemperatureOpt = None
    timeout: TimeoutOpt = None
    retries: RetriesOpt = None
    max_cost: MaxCostOpt = None
    price_in: PriceInOpt = None
    price_out: PriceOutOpt = None
    cache_dir: CacheDirOpt = None
    no_cache: NoCacheOpt = False
    batch: BatchOpt = False
    truncate: TruncateOpt = False
    base_model: BaseModelOpt = None
    # Many GPUs and machines.
    ray: RayOpt = None
    ray_actors: RayActorsOpt = None
    tensor_parallel: TensorParallelOpt = None
    data_parallel: DataParallelOpt = None
    gpu_memory: GpuMemoryOpt = None
    dtype: DtypeOpt = None
    vllm_arg: VllmArgOpt = None

    origins: dict[str, str] = field(default_factory=dict, compare=False, repr=False,
                                    metadata={"not_an_option": True})

    API = ("base_url", "api", "concurrency", "rpm", "tpm", "temperature", "timeout",
           "retries", "max_cost", "price_in", "price_out", "cache_dir", "no_cache", "batch")
    VLLM = ("tensor_parallel", "data_parallel", "gpu_memory", "dtype")
    ROLES = ("panel_vote", "review_judge", "review_template", "calibration", "fallback",
             "fallback_template")

    @property
    def api_options(self) -> dict[str, Any]:
        """The API options given, as the backend names them."""
        given = {k: getattr(self, k) for k in self.API if getattr(self, k) is not None}
        if given.pop("no_cache", False):
            given["cache"] = False
        if not given.get("batch", True):
            del given["batch"]  # a flag left out is not an API option given
        return given

    @property
    def vllm_options(self) -> dict[str, Any]:
        """The vLLM engine options given, as the backend names them (``vllm_args``: the
        --vllm-arg pairs as a dict)."""
        given: dict[str, Any] = {k: getattr(self, k) for k in self.VLLM
                                 if getattr(self, k) is not None}
        if self.vllm_arg:
            given["vllm_args"] = parse_engine_args(self.vllm_arg)
        return given

    def given(self) -> list[str]:
        """The options set away from their defaults, as typed (``--mode``, ``--no-swap``)."""
        default = JudgingArgs()
        return [("--no-swap" if f.name == "swap" else "--map" if f.name == "field_map" else
                 "--" + f.name.replace("_", "-")) for f in option_fields()
                if getattr(self, f.name) != getattr(default, f.name)]

    @property
    def ray_options(self) -> dict[str, Any]:
        """--ray and --ray-actors, as ``load_judge`` takes them (empty without --ray)."""
        if self.ray_actors is not None and not self.ray:
            raise JudgecliError("--ray-actors works with --ray")
        return {"ray": self.ray, "ray_actors": self.ray_actors} if self.ray else {}

    @property
    def mapping(self) -> dict[str, str]:
        from ..io.records import parse_map

        return parse_map(self.field_map or [])

    @property
    def progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()


def parse_engine_args(pairs: Sequence[str]) -> dict[str, Any]:
    """``["max_model_len=8192", "enforce_eager=true"]`` -> ``{"max_model_len": 8192,
    "enforce_eager": True}``: each value read as JSON where it is JSON, else as a string."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise JudgecliError(f"--vllm-arg must be KEY=VALUE (a vllm.LLM argument), not "
                                f"'{pair}'")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def option_fields() -> list[Any]:
    """The fields of :class:`JudgingArgs` that are options (not ``origins``)."""
    return [f for f in fields(JudgingArgs) if not f.metadata.get("not_an_option")]
