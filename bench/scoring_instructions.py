"""What ``[scoring]`` costs a sync, counted in instructions: a figure that does not move with
the machine's load.

    python bench/scoring_instructions.py --responses 10000 --small 2000 [--tree /other/checkout]

``bench/scoring.py`` compares CPU seconds, the unit of the +10% target, but on a shared
2-core machine one configuration's runs spread by about as much as the target (0.129-0.145 ms
per response in seven pinned runs) and the ratio moves from machine to machine. Here each sync
runs under valgrind's callgrind, which counts the instructions the sync's own process executes
(user space: the kernel's share of sockets and fsync is not in it; the sandbox is another
process and not counted). The count is the same from run to run to a fraction of a percent,
so it shows what a change of code does; it is not the target's unit, and it understates
scoring's share of the CPU (the same code: +9.8% in instructions, +18% in CPU seconds on the
machine of README's figures).

Each configuration (without [scoring]; scored, not written; scored and written: the worlds and
configurations of ``bench/scoring.py``) runs at two sizes, ``--small`` and ``--responses``
responses; the difference divided by the difference in responses is the cost of a response,
with the start-up (imports, connection, configuration) taken out. ``--tree`` measures another
checkout's code too, for a before/after. Needs valgrind: says so and stops without it.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = {"without": False, "compute": "compute", "written": True, "score_only": "score_only",
         "no_reasons": "no_reasons"}
NAMES = {"without": "without", "compute": "scored, not written", "written": "scored and written",
         "score_only": "score field only", "no_reasons": "score and date"}


def _child(root: str, url: str, world_file: str, mode: str, setup: str) -> None:
    """One sync, in the process valgrind counts."""
    sys.path.insert(0, root + "/bench")
    sys.path.insert(0, root)
    import scoring as bench  # the tree's own bench module (its settings_for)

    from connector.engine.report import RunOptions
    from connector.engine.wiring import Session

    world = json.loads(Path(world_file).read_text())
    with tempfile.TemporaryDirectory() as state_dir:
        settings = bench.settings_for(url, world, state_dir, MODES[mode], setup)
        with Session(settings) as engine:
            report = engine.run(RunOptions(keep_details=False))
    if report.status != "ok":
        raise SystemExit(f"the sync ended {report.status}: {report.error}")


def _count(root: str, url: str, world_file: str, mode: str, setup: str) -> int:
    python = sys.executable
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONMALLOC": "malloc"}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python,
         str(Path(__file__).resolve()), "--child", root, url, world_file, mode, setup],
        capture_output=True, text=True, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        tail = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("=="))
        raise SystemExit(f"the counted sync failed ({mode}, {root}):\n{tail[-2000:]}")
    return int(found.group(1))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:7])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--tree", action="append", default=[],
                        help="another checkout to count too (before/after)")
    parser.add_argument("--modes", default="without,compute,written",
                        help="which configurations (comma-separated; 'without' is always counted; "
                             "also score_only and no_reasons: fewer score fields written)")
    parser.add_argument("--setup", choices=["bare", "configured"], default="bare",
                        help="bare: the mapping and campaigns only; configured: with owners, "
                             "stages and Tasks as the README's routing example (bench/scoring.py)")
    args = parser.parse_args()
    modes = ["without", *(m for m in args.modes.split(",") if m in MODES and m != "without")]
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no instruction counts (apt-get install valgrind)")
        return
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    from scoring import SandboxProcess

    trees = [str(ROOT), *(str(Path(t).resolve()) for t in args.tree)]
    counts: dict[tuple[str, str, int], int] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for size in (args.small, args.responses):
            sandbox = SandboxProcess(size, args.seed)
            world_file = str(Path(scratch) / f"world-{size}.json")
            Path(world_file).write_text(json.dumps(sandbox.world))
            try:
                for tree in trees:
                    for mode in modes:
                        sandbox.ask("fresh")
                        counts[(tree, mode, size)] = _count(tree, sandbox.url, world_file, mode,
                                                            args.setup)
                        print(f"  counted: {mode} at {size:,} responses ({tree})", file=sys.stderr)
            finally:
                sandbox.stop()
    extra = args.responses - args.small
    print(f"[scoring] in instructions per response of a sync ({args.small:,} and "
          f"{args.responses:,} responses; the difference per response, start-up taken out; "
          f"{args.setup} setup)")
    for tree in trees:
        per = {m: (counts[(tree, m, args.responses)] - counts[(tree, m, args.small)]) / extra
               for m in modes}
        print(f"  {tree}")
        for mode in modes:
            ratio = per[mode] / per["without"]
            print(f"    {NAMES[mode]:<20}{per[mode] / 1000:>9.1f}k instructions/resp"
                  + ("" if mode == "without" else
                     f"   x{ratio:.3f} ({100 * (ratio - 1):+.1f}%; the +10% target is of CPU)"))


if __name__ == "__main__":
    main()
