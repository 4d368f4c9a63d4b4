"""Soak: kill leadsync at random moments, fill its disk, feed it faults; count what survives.

    python bench/soak.py                        # every method x case: about 3 minutes on 2 cores
    python bench/soak.py --responses 2000 --kills 30 --methods hybrid --cases kill-sync,symlink

Each case gets its own sandbox, in its own process (so it outlives the kills; ``--jobs``
cases at a time). Every run of leadsync is a real ``python -m connector sync`` (or
``retry``) subprocess, SIGKILLed at a random moment after it took the state's lock, while
the sandbox injects faults (``--faults``, split four ways: 5xx, 503/429, dropped
connections, replies lost after the write was applied). After the kills the case's command
is rerun until a run ends clean (exit 0; faults off after 8 tries), then one plain sync with
the faults off (the final clean run), then the org and the ledger are audited.

Cases (``--cases``):

  kill-sync    syncs killed mid-run, [salesforce] lead_external_id_field set
  kill-retry   a sync parks responses (a Lead validation rule, a campaign refusing members),
               the admin lifts both, then `leadsync retry` runs are killed mid-run
  symlink      the state path is a symlink (dangling at first) to a file in another folder;
               every other kill also starts a run through the real path at the same moment
               (one of the two must be refused); nothing may appear beside the link
  disk-full    runs with the state's disk nearly full (a small tmpfs when this process may
               mount one, else RLIMIT_FSIZE), a little more room each time; then room again
  no-key       no lead_external_id_field: hybrid and unique must still be exactly once (a
               lost write is found by email); poi runs with [sync] poi_delivery =
               "at_least_once" and its row is for information only (duplicates allowed)
  poi-refused  poi without the key and without the opt-in: sync and retry must exit 2 and
               create nothing; then the key is added and one run must apply everything once

Prints a table of method x case: lost, duplicated, stranded (pending ledger rows left after
the final clean run) and the case's own checks; every count must be 0 and every check ok,
except the row marked INFO. Exit status 1 when one is not.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from connector.adapters.sqlite.ledger import State  # noqa: E402
from connector.sandbox import Sandbox  # noqa: E402
from soak_world import World, audit, build, created_leads, write_config  # noqa: E402

CASES = ("kill-sync", "kill-retry", "symlink", "disk-full", "no-key", "poi-refused")
FAULT_RATES = ("error_rate", "rate_limit_rate", "drop_rate", "apply_then_drop_rate")
DISK_STEPS = (4_096, 98_304, 196_608, 327_680, 524_288)   # room left on the state's disk, per run
AT_LEAST_ONCE_NOTE = 'INFO: poi_delivery = "at_least_once" (duplicates allowed, not a failure)'


@dataclass
class Params:
    responses: int
    people: int
    kills: int
    faults: float
    window: float
    disk: str
    seed: int


@dataclass
class Harness:
    """One case's sandbox, folder, state and runs; collects its checks and notes."""

    sandbox: Sandbox
    tmp: Path
    params: Params
    method: str
    rng: random.Random
    world: World | None = None
    state: Path | None = None
    runs: int = 0
    mid_run: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "LEADSYNC_SALESFORCE_ACCESS_TOKEN": self.sandbox.token,
                "LEADSYNC_HUBSPOT_ACCESS_TOKEN": self.sandbox.token}

    @property
    def lock_file(self) -> Path:
        real = self.state.resolve()
        return real.with_name(real.name + ".lock")

    def config(self, name: str = "c.toml", *, state: Path | None = None, **options: Any) -> Path:
        return write_config(self.tmp / name, self.sandbox, self.world, self.method,
                            state or self.state, **options)

    def faults(self, on: bool) -> None:
        share = self.params.faults / 4 if on else 0.0
        self.sandbox.app.faults.configure(**{rate: share for rate in FAULT_RATES},
                                          retry_after=None, latency_ms=1 if on else 0)

    def _argv(self, config: Path, command: str) -> list[str]:
        return [sys.executable, "-m", "connector", command, "--config", str(config)]

    def spawn(self, config: Path, command: str, stderr: Path) -> subprocess.Popen:
        self.runs += 1
        with open(stderr, "w") as err:
            return subprocess.Popen(self._argv(config, command), env=self.env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=err)

    def run(self, config: Path, command: str = "sync",
            preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess:
        self.runs += 1
        return subprocess.run(self._argv(config, command), env=self.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=600, preexec_fn=preexec)

    def kill_runs(self, config: Path, command: str, *, partner: Path | None = None) -> None:
        """``kills`` runs, each SIGKILLed a random moment (0..window s) after it took the lock;
        a run that ends before its kill shortens the window to 80% of its length.
        With ``partner``, every other run has a twin on that config started at once: they wait
        until the twin is refused (or 10 s), then both are killed."""
        pairs = refused = 0
        left: list[int] = []
        window = self.params.window
        for k in range(self.params.kills):
            before = _mtime(self.lock_file)
            procs = [self.spawn(config, command, self.tmp / "err0")]
            if partner is not None and k % 2:
                procs.append(self.spawn(partner, command, self.tmp / "err1"))
                pairs += 1
            deadline = time.monotonic() + 30
            while (_mtime(self.lock_file) == before and time.monotonic() < deadline
                   and any(p.poll() is None for p in procs)):
                time.sleep(0.01)
            if len(procs) == 2:
                deadline = time.monotonic() + 10
                while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
                    time.sleep(0.01)
            locked = time.monotonic()
            end = locked + self.rng.uniform(0, window)
            while time.monotonic() < end and any(p.poll() is None for p in procs):
                time.sleep(0.01)
            if any(p.poll() is None for p in procs):
                self.mid_run += 1
            else:       # it ended first: aim within the length of that run next time
                window = max(0.05, (time.monotonic() - locked) * 0.8)
            for proc in procs:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            left.append(_count(self.state, "pending"))
            if len(procs) == 2:
                refused += any("in use by" in (self.tmp / f"err{i}").read_text() for i in (0, 1))
        self.notes.append(f"pending rows after each kill: {left}")
        if pairs:
            self.notes.append(f"{refused}/{pairs} twin runs refused")

    def finish(self, config: Path, command: str) -> None:
        """Rerun until a run ends clean (faults on, then off after 8 tries)."""
        for attempt in range(9):
            if attempt == 8:
                self.faults(False)
                self.notes.append(f"{command}: clean only with the faults off")
            done = self.run(config, command)
            if done.returncode == 0:
                return
        self.failures.append(f"{command} never ended clean: exit {done.returncode}: {_tail(done)}")

    def final_clean(self, config: Path) -> None:
        self.faults(False)
        done = self.run(config, "sync")
        if done.returncode != 0:
            self.failures.append(f"final sync: exit {done.returncode}: {_tail(done)}")


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _tail(done: subprocess.CompletedProcess) -> str:
    text = (done.stderr or done.stdout or "").strip().splitlines()
    return text[-1][:200] if text else "(no output)"


# -- the cases ------------------------------------------------------------------------------

def kill_sync(h: Harness, *, key: bool = True) -> None:
    config = h.config(key=key, at_least_once=not key and h.method == "poi")
    h.faults(True)
    h.kill_runs(config, "sync")
    h.finish(config, "sync")
    h.final_clean(config)


def no_key(h: Harness) -> None:
    kill_sync(h, key=False)
    if h.method == "poi":
        h.notes.insert(0, AT_LEAST_ONCE_NOTE)


def kill_retry(h: Harness) -> None:
    sf = h.sandbox.app.salesforce
    rules = [("Lead", "Soak_refused", 'BEGINS(LastName, "R")'),
             ("CampaignMember", "Soak_closed", f'CampaignId = "{h.world.campaigns[3]}"')]
    for sobject, name, condition in rules:
        sf.add_validation_rule(sobject, name, condition, "Refused by the soak.")
    config = h.config()
    first = h.run(config, "sync")              # faults off: the rules park what they refuse
    parked = _count(h.state, "failed")
    if first.returncode != 3 or not parked:
        h.failures.append(f"the parking sync: exit {first.returncode}, {parked} parked")
    h.notes.append(f"{parked} parked, then retried")
    for sobject, name, condition in rules:    # the admin fixes the cause
        sf.add_validation_rule(sobject, name, condition, "Refused by the soak.", active=False)
    h.faults(True)
    h.kill_runs(config, "retry")
    h.finish(config, "retry")
    h.final_clean(config)


def symlink(h: Harness) -> None:
    real, link = h.tmp / "real" / "leadsync.db", h.tmp / "link" / "leadsync.db"
    real.parent.mkdir()
    link.parent.mkdir()
    link.symlink_to(real)                      # dangling until the first run creates the file
    h.state = link
    via_link, via_real = h.config("link.toml", state=link), h.config("real.toml", state=real)
    h.faults(True)
    h.kill_runs(via_link, "sync", partner=via_real)
    h.finish(via_link, "sync")
    h.final_clean(via_link)
    stray = sorted(p.name for p in link.parent.iterdir() if p != link)
    if stray or not link.is_symlink():
        h.failures.append(f"beside the link: {stray}, link still a symlink: {link.is_symlink()}")


def disk_full(h: Harness) -> None:
    mode = h.params.disk
    disk = h.tmp / "disk"
    disk.mkdir()
    if mode in ("auto", "tmpfs"):
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)],
                                 capture_output=True).returncode == 0 if os.geteuid() == 0 else False
        if not mounted and mode == "tmpfs":
            raise SystemExit("--disk tmpfs: cannot mount a tmpfs (needs root)")
        mode = "tmpfs" if mounted else "fsize"
    h.state = disk / "leadsync.db"
    try:
        config = h.config()
        h.faults(True)
        hit, mid_run, pending = [], 0, []
        for room in DISK_STEPS:
            with _cap(mode, disk, room) as preexec:
                done = h.run(config, "sync", preexec)
            if done.returncode == 0:
                break
            if any(s in done.stderr for s in ("full", "disk I/O", "File too large", "No space")):
                hit.append(room // 1024)
                mid_run += "_ensure_schema" not in done.stderr
                pending.append(_count(h.state, "pending"))
            else:
                h.notes.append(f"room {room // 1024} KiB: exit {done.returncode}: {_tail(done)}")
        h.notes.append(f"{mode}: {len(hit)} runs out of room (at {hit} KiB free; {mid_run} past "
                       f"opening the state; pending rows after each: {pending})")
        if not hit:
            h.failures.append("no run ran out of room")
        h.finish(config, "sync")
        h.final_clean(config)
    finally:
        if mode == "tmpfs":
            try:
                _copy_state(h, h.tmp / "state-copy.db")
            finally:
                subprocess.run(["umount", str(disk)], check=False)


def _count(state_path: Path, status: str | None = None) -> int:
    """Ledger rows (of a status) in a state file; 0 when it has no ledger yet."""
    state = State.open_read_only(state_path)
    try:
        return len(state.rows(status) if status else state.rows())
    except sqlite3.OperationalError:
        return 0
    finally:
        state.close()


def _copy_state(h: Harness, copy: Path) -> None:
    """The audit reads the state after the tmpfs is gone: keep a consistent copy."""
    source = State.open_read_only(h.state)
    target = sqlite3.connect(str(copy))
    source.db.conn.backup(target)
    target.close()
    source.close()
    h.state = copy


class _cap:
    """Leave ``room`` bytes on the state's disk for one run: a filler file on the tmpfs, or
    an RLIMIT_FSIZE of the largest state file plus ``room`` (set in the child)."""

    def __init__(self, mode: str, disk: Path, room: int) -> None:
        self.mode, self.disk, self.room = mode, disk, room
        self.filler = disk / "filler"

    def __enter__(self) -> Callable[[], None] | None:
        if self.mode == "tmpfs":
            vfs = os.statvfs(self.disk)
            size = (vfs.f_bavail * vfs.f_frsize - self.room) // 4096 * 4096
            with open(self.filler, "wb") as handle:
                for _ in range(size // (1 << 20)):
                    handle.write(bytes(1 << 20))
                handle.write(bytes(size % (1 << 20)))
            return None
        limit = max([p.stat().st_size for p in self.disk.iterdir() if p.is_file()] or [0]) + self.room
        return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def __exit__(self, *exc: object) -> None:
        self.filler.unlink(missing_ok=True)


def poi_refused(h: Harness) -> None:
    config = h.config(key=False)
    for command in ("sync", "retry"):
        done = h.run(config, command)
        if done.returncode != 2 or "poi_delivery" not in done.stderr:
            h.failures.append(f"{command} without the key: exit {done.returncode}: {_tail(done)}")
    rows = _count(h.state)
    created, members = created_leads(h.sandbox, h.world), len(h.sandbox.app.salesforce.records("CampaignMember"))
    if created or members or rows:
        h.failures.append(f"refused yet {created} Leads, {members} members, {rows} ledger rows")
    h.notes.append(f"sync and retry exit 2; {created} Leads, {members} members, {rows} ledger rows; "
                   "then the key added")
    fixed = h.config("fixed.toml")
    h.faults(True)
    h.finish(fixed, "sync")
    h.final_clean(fixed)


RUNNERS: dict[str, Callable[[Harness], None]] = {
    "kill-sync": kill_sync, "kill-retry": kill_retry, "symlink": symlink,
    "disk-full": disk_full, "no-key": no_key, "poi-refused": poi_refused}


def run_case(method: str, case: str, params: Params, seed: int) -> dict[str, Any]:
    started = time.monotonic()
    with Sandbox(seed=seed) as sandbox, tempfile.TemporaryDirectory() as tmp:
        h = Harness(sandbox, Path(tmp), params, method, random.Random(seed))
        h.world = build(sandbox, params.responses, params.people,
                        refused_every=3 if case == "kill-retry" else 0)
        h.state = h.tmp / "leadsync.db"
        RUNNERS[case](h)
        h.faults(False)
        figures = audit(sandbox, h.world, h.state, method)
        faults = sandbox.app.faults.stats.get("total", 0)
    if figures["failed"]:
        h.notes.append(f"{figures['failed']} still parked")
    return {"method": method, "case": case, **figures, "failures": h.failures, "notes": h.notes,
            "info": case == "no-key" and method == "poi", "runs": h.runs, "mid_run": h.mid_run,
            "faults": faults, "seconds": time.monotonic() - started}


def table(rows: list[dict[str, Any]]) -> tuple[str, bool]:
    head = (f"{'method':<7} {'case':<12} {'lost':>5} {'duplicated':>10} {'stranded':>8}  "
            f"{'check':<5} {'runs':>4} {'killed':>6} {'faults':>6} {'secs':>5}  notes")
    lines, ok = [head, "-" * len(head)], True
    for r in rows:
        bad = bool(r["failures"]) or (not r["info"] and (r["lost"] or r["duplicated"] or r["stranded"]))
        ok &= not bad
        check = "INFO" if r["info"] else ("FAIL" if bad else "ok")
        notes = "; ".join(r["notes"] + r["failures"])
        lines.append(f"{r['method']:<7} {r['case']:<12} {r['lost']:>5} {r['duplicated']:>10} "
                     f"{r['stranded']:>8}  {check:<5} {r['runs']:>4} {r['mid_run']:>6} "
                     f"{r['faults']:>6} {r['seconds']:>5.0f}  {notes}")
    return "\n".join(lines), ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", type=int, default=400)
    parser.add_argument("--people", type=int, default=160)
    parser.add_argument("--kills", type=int, default=6, help="SIGKILLed runs per case")
    parser.add_argument("--faults", type=float, default=0.2, help="share of calls faulted (split 4 ways)")
    parser.add_argument("--window", type=float, default=None,
                        help="kill within this many seconds after the lock is taken (default: "
                        "responses / 400)")
    parser.add_argument("--disk", choices=("auto", "tmpfs", "fsize"), default="auto",
                        help="how disk-full is made: a small tmpfs (root) or RLIMIT_FSIZE")
    parser.add_argument("--methods", default="poi,hybrid,unique")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    params = Params(args.responses, args.people, args.kills, args.faults,
                    args.window if args.window is not None else args.responses / 400,
                    args.disk, args.seed)
    work = [(m, c) for m in args.methods.split(",") for c in args.cases.split(",")
            if c in RUNNERS and not (c == "poi-refused" and m != "poi")]
    unknown = set(args.cases.split(",")) - set(RUNNERS)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; known: {', '.join(CASES)}")
    started = time.monotonic()
    with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_case, m, c, params, args.seed * 1000 + i): (m, c)
                   for i, (m, c) in enumerate(work)}
        for future in concurrent.futures.as_completed(futures):
            r = future.result()
            print(f"  done {r['method']} {r['case']} in {r['seconds']:.0f}s", file=sys.stderr, flush=True)
        rows = [f.result() for f in futures]
    text, ok = table(rows)
    print(f"soak: {params.responses} responses, {params.people} people, {params.kills} kills per case, "
          f"{params.faults:.0%} faults, seed {params.seed}; {time.monotonic() - started:.0f}s")
    print(text)
    print("every count 0 and every check ok" + (" (INFO rows excepted)" if any(r["info"] for r in rows) else "")
          if ok else "NOT ALL ZERO: see the FAIL rows")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
