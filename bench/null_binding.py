"""What binding ``None`` costs a ledger-shaped statement, with and without the adapter that
``connector.adapters.sqlite`` registers (see its docstring).

    python bench/null_binding.py [--rows 20000]

Each side runs in a fresh process (the registration is process-wide), inserting the same rows
of a ledger's shape (an id, a few texts, eight NULLs) into an in-memory table; the best of
five CPU times per side is printed, and their ratio. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = r"""
import sqlite3, sys, time
if sys.argv[1] == "adapter":
    import connector.adapters.sqlite  # noqa: F401  (registers the adapter)
rows = [(f"conv-{i}", "form", 1_700_000_000_000 + i, "applied", None, None, None, None, None,
         None, None, None) for i in range(int(sys.argv[2]))]
best = None
for _ in range(5):
    c = sqlite3.connect(":memory:")
    c.execute("CREATE TABLE ledger (a, b, c, d, e, f, g, h, i, j, k, l)")
    t = time.process_time()
    c.executemany("INSERT INTO ledger VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    spent = time.process_time() - t
    assert c.execute("SELECT COUNT(*) FROM ledger WHERE e IS NULL").fetchone()[0] == len(rows)
    best = spent if best is None else min(best, spent)
print(best)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    spent = {}
    for side in ("plain", "adapter"):
        out = subprocess.run([sys.executable, "-c", CHILD, side, str(args.rows)],
                             capture_output=True, text=True, check=True).stdout
        spent[side] = float(out.strip())
    for side, seconds in spent.items():
        print(f"{side:8} {seconds * 1e6 / args.rows:7.3f} µs per row ({args.rows:,} rows, "
              "8 NULLs each)")
    print(f"adapter/plain: {spent['adapter'] / spent['plain']:.2f}")


if __name__ == "__main__":
    main()
