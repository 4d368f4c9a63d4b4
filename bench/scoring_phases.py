"""Where ``[scoring]``'s CPU goes inside a sync: CPU seconds a response by phase, each
configuration side by side.

    python bench/scoring_phases.py --responses 10000 --repeat 5 [--setup configured]

``bench/scoring.py`` says how much CPU scoring adds to a whole sync; this says where. Each
run is a fresh spawned process (pinned to a core, the sandbox on the other, as there) whose
phases are wrapped in a CPU timer: the gather (with the stored history read), the score's
arithmetic (``score_batch``), shaping, the ledger's writes (its score columns' text apart).
A wrapper costs about half a microsecond a call, so per-call phases read a little high.
Figures are printed (medians), never asserted.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scoring as bench  # noqa: E402

CONFIGS = {"without": False, "compute": "compute", "written": True}
# label -> the function timed (its module or class in _phases_main), in the printed order
PHASES = {"gather (all)": "gather", "  history read": "stored_history",
          "score_batch": "score_batch", "shape": "shape", "  describe (Task lines)": "describe",
          "ledger intents": "_upsert",
          "ledger outcomes (all)": "record_outcomes", "  score columns' text": "score_columns"}


def _timed(acc: collections.Counter[str], owner: Any, name: str, label: str) -> None:
    wrapped: Callable[..., Any] = getattr(owner, name)
    clock = time.process_time

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return wrapped(*args, **kwargs)
        finally:
            acc[label] += clock() - started
    setattr(owner, name, timed)


def _phases_main(queue: Any, url: str, world: dict[str, Any], scoring: bool | str,
                 setup: str) -> None:
    import connector.adapters.sqlite.ledger as ledger
    import connector.core.batch as batch
    import connector.core.enrich.shape as shape
    import connector.engine.gather as gather
    import connector.engine.scoring as engine_scoring
    from connector.engine.report import RunOptions
    from connector.engine.wiring import Session

    bench._pin(1)
    acc: collections.Counter[str] = collections.Counter()
    owners = {"gather": gather.Gatherer, "stored_history": engine_scoring, "score_batch": batch,
              "shape": batch, "record_outcomes": ledger.State, "score_columns": ledger,
              "_upsert": ledger.State, "describe": shape}
    for label, name in PHASES.items():
        _timed(acc, owners[name], name, label)
    with tempfile.TemporaryDirectory() as state_dir:
        settings = bench.settings_for(url, world, state_dir, scoring, setup)
        started = time.process_time()
        with Session(settings) as engine:
            report = engine.run(RunOptions(keep_details=False))
        acc["the whole run"] = time.process_time() - started
    if report.status != "ok":
        raise SystemExit(f"the sync ended {report.status}: {report.error}")
    queue.put(dict(acc))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--setup", choices=["bare", "configured"], default="bare")
    args = parser.parse_args(argv)
    sandbox = bench.SandboxProcess(args.responses, args.seed)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in CONFIGS}
    try:
        for _ in range(args.repeat):
            for name, scoring in CONFIGS.items():     # interleaved, as bench/scoring.py
                sandbox.ask("fresh")
                runs[name].append(bench._in_child(_phases_main, sandbox.url, sandbox.world,
                                                  scoring, args.setup))
    finally:
        sandbox.stop()
    n = args.responses
    print(f"[scoring] CPU by phase, µs a response ({n:,} responses, {args.setup} setup, "
          f"medians of {args.repeat}; start-up is in 'the whole run')")
    print(f"  {'':<26}" + "".join(f"{bench.NAMES[s]:>22}" for s in CONFIGS.values()))
    phases = [*PHASES, "the whole run"]
    for phase in phases:
        print(f"  {phase:<26}" + "".join(
            f"{1e6 * statistics.median(r.get(phase, 0.0) for r in runs[name]) / n:>22.2f}"
            for name in CONFIGS))


if __name__ == "__main__":
    main()
