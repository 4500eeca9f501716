"""Scores planners on the dev sets: right, silently wrong, refused, out-of-scope refused, speed, tokens.

    python bench/planner.py                                   # the rules alone
    python bench/planner.py --model ~/.cache/layeredit-models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

With ``--model`` it scores three planners in one run on the same machine: the rules, the model
alone (llama.cpp in process, grammar-constrained JSON) and the hybrid (rules first, the model's plans
checked). A plan that differs from the expected one, or any plan for an out-of-scope request, is
"silently wrong". ``--stride N`` gives the model alone every in-scope request N-th (all the
out-of-scope ones) when a CPU is too slow for all of them; the table says how many it saw.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from layeredit.agent.errors import PlannerError  # noqa: E402
from layeredit.agent.llm import make_planner  # noqa: E402
from layeredit.agent.planner_options import PlannerOptions  # noqa: E402
from tests.test_planner import op_matches  # noqa: E402 - the dev sets' own notion of a right plan

SETS = (ROOT / "tests" / "data" / "planner_dev.jsonl", ROOT / "tests" / "data" / "planner_requests_dev.jsonl")


@dataclass
class Score:
    name: str
    seen: int = 0
    right: int = 0
    wrong: int = 0
    refused: int = 0
    out_of_scope: int = 0
    out_refused: int = 0
    seconds: list[float] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    model_calls: int = 0
    answers: list[dict[str, Any]] = field(default_factory=list)  # every request: verdict, plan, error

    def row(self) -> str:
        in_scope = self.seen - self.out_of_scope
        times = sorted(self.seconds)
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))] if times else 0.0
        median = statistics.median(times) if times else 0.0
        share = 100 * self.right / max(in_scope, 1)
        cells = [self.name, self.seen, f"{self.right}/{in_scope} ({share:.0f}%)", self.wrong, self.refused,
                 f"{self.out_refused}/{self.out_of_scope}", f"{median:.2f}", f"{p90:.2f}", self.model_calls,
                 self.tokens_in, self.tokens_out]  # fmt: skip
        return "| " + " | ".join(map(str, cells)) + " |"


COLUMNS = ("planner", "requests", "right (in scope)", "silently wrong", "refused (in scope)",
           "out-of-scope refused", "median s", "p90 s", "model calls", "tokens in", "tokens out")  # fmt: skip
HEADER = "| " + " | ".join(COLUMNS) + " |\n" + "|---" * len(COLUMNS) + "|"


def examples(files: list[Path]) -> list[dict[str, Any]]:
    found = []
    for file in files:
        lines = [line for line in file.read_text().splitlines() if line.strip()]
        found += [{**json.loads(line), "set": file.name} for line in lines]
    return found


def _usage(planner: Any) -> Any:
    model = getattr(planner, "llm", planner)
    return getattr(model, "usage", None)


def score(name: str, planner: Any, cases: list[dict[str, Any]]) -> Score:
    result = Score(name)
    usage = _usage(planner)
    for case in cases:
        before = (usage.calls, usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0, 0)
        start = time.perf_counter()
        try:
            plan, error = planner.plan(case["text"], tuple(case["size"])), None
        except PlannerError as exc:
            plan, error = None, str(exc)
        result.seconds.append(time.perf_counter() - start)
        if usage:
            result.model_calls += usage.calls - before[0]
            result.tokens_in += usage.prompt_tokens - before[1]
            result.tokens_out += usage.completion_tokens - before[2]
        result.seen += 1
        got = json.loads(plan.to_json())["operations"] if plan else None
        if case.get("expect_error"):
            result.out_of_scope += 1
            result.out_refused += plan is None
            result.wrong += plan is not None
            verdict = "refused" if plan is None else "planned out of scope"
        elif plan is None:
            result.refused += 1
            verdict = "refused"
        elif _matches(case["ops"], got):
            result.right += 1
            verdict = "right"
        else:
            result.wrong += 1
            verdict = "silently wrong"
        result.answers.append({"text": case["text"], "verdict": verdict, "plan": got, "error": error,
                               "expected": case.get("ops")})  # fmt: skip
        print(f"  {name}: {verdict:22s} {result.seconds[-1]:6.1f} s  {case['text'][:70]}", flush=True)
    return result


def _matches(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> bool:
    return len(expected) == len(got) and all(
        e["op"] == g["op"] and op_matches(e, g) for e, g in zip(expected, got, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="GGUF file: also score the model alone and the hybrid")
    parser.add_argument("--stride", type=int, default=1, help="the model alone: every N-th in-scope request")
    parser.add_argument("--json", type=Path, help="write the scores and every answer here")
    parser.add_argument("--sets", type=Path, nargs="+", default=list(SETS), help="JSON Lines request sets")
    args = parser.parse_args()
    cases = examples(args.sets)
    scores = [score("rules", make_planner("rules"), cases)]
    if args.model:
        spec = f"llamacpp:{Path(args.model).expanduser()}"
        alone = make_planner(PlannerOptions(llm=spec, llm_mode="alone"))
        in_scope = [c for c in cases if not c.get("expect_error")]
        sample = in_scope[:: args.stride] + [c for c in cases if c.get("expect_error")]
        scores.append(score("hybrid", make_planner(PlannerOptions(llm=spec)), cases))
        label = f"model alone (1 in {args.stride} in scope)" if args.stride > 1 else "model alone"
        scores.append(score(label, alone, sample))
    print(HEADER)
    for one in scores:
        print(one.row())
    if args.json:
        args.json.write_text(json.dumps([one.__dict__ for one in scores], indent=1))


if __name__ == "__main__":
    main()
