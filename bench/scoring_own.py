"""The CPU spent inside ``[scoring]``'s own code during a real sync, next to the whole sync's
CPU without scoring: a steadier reading than ``bench/scoring.py``'s difference of two whole
runs, which moves by more than the target on a shared machine.

    python bench/scoring_own.py --responses 10000 --repeat 3 [--tree /other/checkout]

Each run is a fresh spawned process against a fresh copy of the same world (the sandbox of
``bench/scoring.py``), "without" and "scored, not written" interleaved. In the scored run the
time inside ``score_batch`` (the arithmetic), ``stored_history`` (the batch's stored history)
and ``record_batch_scores`` less the ledger's ``record_outcomes`` it commits with (keeping the
history) is summed with ``time.process_time``. ``--tree`` measures another checkout's code
against the same sandbox, interleaved, for a before/after. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _run(queue: Any, root: str, url: str, world: dict[str, Any], scoring: bool | str) -> None:
    sys.path.insert(0, root + "/bench")
    sys.path.insert(0, root)
    import scoring as bench  # the tree's own bench module (settings_for)

    import connector.core.batch as batch
    import connector.engine.run as run
    import connector.engine.scoring as engine_scoring
    from connector.adapters.sqlite.ledger import State
    from connector.engine.report import RunOptions
    from connector.engine.wiring import Session

    spent = {"arithmetic": 0.0, "history": 0.0, "keeping": 0.0, "outcomes": 0.0}
    inside = [False]

    def timed(module: Any, name: str, key: str, keeping: bool = False) -> None:
        real = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            inside[0] = inside[0] or keeping
            try:
                return real(*args, **kwargs)
            finally:
                inside[0] = inside[0] and not keeping
                spent[key] += time.process_time() - started
        setattr(module, name, wrapper)

    timed(batch, "score_batch", "arithmetic")
    timed(engine_scoring, "stored_history", "history")
    timed(run, "record_batch_scores", "keeping", keeping=True)
    record_outcomes = State.record_outcomes

    def outcomes(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return record_outcomes(self, *args, **kwargs)
        finally:
            if inside[0]:
                spent["outcomes"] += time.process_time() - started
    State.record_outcomes = outcomes             # type: ignore[method-assign]

    with tempfile.TemporaryDirectory() as state_dir:
        settings = bench.settings_for(url, world, state_dir, scoring)
        started = time.process_time()
        with Session(settings) as engine:
            engine.run(RunOptions(keep_details=False))
        total = time.process_time() - started
    spent["keeping"] -= spent.pop("outcomes")
    queue.put({"total": total, **spent})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--tree", action="append", default=[],
                        help="another checkout to measure too (before/after)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    from scoring import SandboxProcess

    trees = [str(ROOT), *(str(Path(t).resolve()) for t in args.tree)]
    sandbox = SandboxProcess(args.responses, args.seed)
    results: dict[tuple[str, Any], list[dict[str, float]]] = {}
    try:
        ctx = mp.get_context("spawn")
        for _ in range(args.repeat):
            for tree in trees:
                for scoring in (False, "compute"):
                    sandbox.ask("fresh")
                    queue = ctx.Queue()
                    proc = ctx.Process(target=_run, args=(queue, tree, sandbox.url, sandbox.world,
                                                          scoring))
                    proc.start()
                    results.setdefault((tree, scoring), []).append(queue.get())
                    proc.join()
    finally:
        sandbox.stop()
    n = args.responses
    print(f"[scoring]'s own CPU in a sync of {n:,} responses ({args.repeat} runs each, medians)")
    for tree in trees:
        base = statistics.median(r["total"] for r in results[(tree, False)])
        scored = results[(tree, "compute")]
        parts = {k: statistics.median(r[k] for r in scored)
                 for k in ("arithmetic", "history", "keeping")}
        own = statistics.median(r["arithmetic"] + r["history"] + r["keeping"] for r in scored)
        print(f"  {tree}")
        print(f"    sync without [scoring]: {1000 * base / n:.3f} ms/resp;  scoring's own: "
              f"{1e6 * own / n:.1f} µs/resp = {100 * own / base:+.1f}% of it  (arithmetic "
              f"{1e6 * parts['arithmetic'] / n:.1f}, stored history read "
              f"{1e6 * parts['history'] / n:.1f}, history kept {1e6 * parts['keeping'] / n:.1f} "
              "µs/resp)")


if __name__ == "__main__":
    main()
