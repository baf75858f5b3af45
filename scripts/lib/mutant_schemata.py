#!/usr/bin/env python3
"""Mutant schemata for the money paths: every cargo-mutants mutant in one build.

cargo-mutants builds the crate once per mutant; for this crate that is 3.5
minutes per mutant on an idle machine, most of the time in rustc's front end
(the Leptos crate is rebuilt whole). A mutant schema (Untch, Offutt and Harrold,
"Mutation analysis using mutant schemata", ISSTA 1993) compiles all of them at
once: each mutated function's body becomes

    match crate::mutant_schemata::active() {
        7 => { <the body with mutant 7 applied> }
        8 => { <the body with mutant 8 applied> }
        _ => { <the body as written> }
    }

and the test binary runs once per mutant with AUTODOCTOR_MUTANT=<id> (0: none).
The mutants are exactly cargo-mutants' own (its `--list --json`: file, span,
replacement); only the way they are built differs. A mutant whose arm does not
compile is what cargo-mutants calls unviable: it is left out and listed.

  instrument LIST.json WORKTREE [--skip ID ...]  rewrite WORKTREE's sources (a throwaway
                                                 worktree, never a checkout), write
                                                 WORKTREE/mutants-schemata.json
  unviable WORKTREE CARGO_OUTPUT                 the ids whose arms rustc rejected
  run WORKTREE TEST_BINARY OUT_DIR               baseline, then every mutant: stage 1
                                                 with its file's tests, stage 2 (the
                                                 wider set) for the ones stage 1 missed

Run from scripts/mutants (`scripts/mutants money`); TESTING.md has the results.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

# Stage 1: the database tests nearest each file. Stage 2: everything that moves
# money, for what stage 1 missed (a mutant counts as missed only if it survives
# both). The soak is left out (it reaches nothing the others do not).
STAGE1 = {
    "src/checkout/webhook.rs": ["checkout::db_tests", "booking::db_tests"],
    "src/refunds/ledger.rs": ["payouts::db_tests", "sessions::db_tests", "ledger::db_tests", "earnings::db_tests"],
    "src/refunds/refund.rs": ["payouts::db_tests", "sessions::db_tests", "ledger::db_tests", "earnings::db_tests"],
    "src/offers/accept.rs": ["sessions::db_tests", "workshops::db_tests"],
}
STAGE2 = [
    "checkout::db_tests", "booking::db_tests", "payouts::db_tests", "sessions::db_tests",
    "workshops::db_tests", "ledger::db_tests", "earnings::db_tests", "consistency::db_tests",
    "notifications::db_tests", "offers::mail_db_tests", "server::detach_db_tests",
    "security::revocation_db_tests",
]
# Stage 3, the slow ones (minutes each), for what survives stage 2: the order
# lifecycle state machine (200 random sequences) and the signed hostile webhooks.
STAGE3 = ["security::lifecycle_db_tests", "security::hostile_db_tests::hostile_webhooks_are_refused_cleanly"]
SKIP = ["soak"]


def lines_offsets(text):
    """Char offset of the start of each 1-based line."""
    offs = [0, 0]
    for i, ch in enumerate(text):
        if ch == "\n":
            offs.append(i + 1)
    return offs


def offset(offs, pos):
    # cargo-mutants spans: 1-based line and column, columns in characters, end exclusive.
    return offs[pos["line"]] + pos["column"] - 1


def instrument(list_json, wt, skip):
    mutants = json.load(open(list_json))
    by_fn = {}
    table = []
    for i, m in enumerate(mutants, start=1):
        m["id"] = i
        table.append({"id": i, "name": m["name"], "file": m["file"], "genre": m["genre"],
                      "function": m["function"]["function_name"]})
        fs = m["function"]["span"]
        key = (m["file"], fs["start"]["line"], fs["start"]["column"], fs["end"]["line"], fs["end"]["column"])
        by_fn.setdefault(key, []).append(m)
    # Nested mutated functions would put one schema inside another: refuse.
    keys = sorted(by_fn)
    for a in keys:
        for b in keys:
            if a != b and a[0] == b[0] and (a[1], a[2]) <= (b[1], b[2]) and (b[3], b[4]) <= (a[3], a[4]):
                sys.exit(f"nested mutated functions in {a[0]}: lines {a[1]} and {b[1]}")
    files = {}
    for key, ms in by_fn.items():
        files.setdefault(key[0], []).append((key, ms))
    for path, fns in files.items():
        full = os.path.join(wt, path)
        text = open(full, encoding="utf-8").read()
        offs = lines_offsets(text)
        edits = []  # (start, end, new) over the original text, applied back to front
        for key, ms in fns:
            bodies = [m for m in ms if m["genre"] == "FnValue"]
            if not bodies:
                sys.exit(f"{path}:{key[1]}: no FnValue mutant, so no body span for {ms[0]['function']['function_name']}")
            b0 = offset(offs, bodies[0]["span"]["start"])
            b1 = offset(offs, bodies[0]["span"]["end"])
            body = text[b0:b1]
            arms = []
            for m in ms:
                if m["id"] in skip:  # unviable: its FnValue span still gives the body
                    continue
                s = offset(offs, m["span"]["start"]) - b0
                e = offset(offs, m["span"]["end"]) - b0
                if not (0 <= s <= e <= len(body)):
                    sys.exit(f"mutant {m['id']} ({m['name']}) lies outside its function's body")
                variant = body[:s] + m["replacement"] + body[e:]
                arms.append(f"        {m['id']} => {{ // mutant {m['id']}: {m['name']}\n{variant}\n        }}\n")
            schema = ("match crate::mutant_schemata::active() {\n" + "".join(arms)
                      + f"        _ => {{\n{body}\n        }}\n    }}")
            edits.append((b0, b1, schema))
        edits.sort(reverse=True)
        for i in range(1, len(edits)):
            if edits[i][1] > edits[i - 1][0]:
                sys.exit(f"overlapping functions in {path}")
        for s, e, new in edits:
            text = text[:s] + new + text[e:]
        open(full, "w", encoding="utf-8").write(text)
    with open(os.path.join(wt, "src/mutant_schemata.rs"), "w") as f:
        f.write('//! Generated by scripts/lib/mutant_schemata.py in a throwaway worktree.\n'
                'pub fn active() -> u32 {\n'
                '    static ID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();\n'
                '    *ID.get_or_init(|| std::env::var("AUTODOCTOR_MUTANT").ok().and_then(|v| v.parse().ok()).unwrap_or(0))\n'
                '}\n')
    lib = os.path.join(wt, "src/lib.rs")
    src = open(lib).read()
    if "pub mod mutant_schemata;" not in src:
        open(lib, "w").write(src + "\n#[doc(hidden)]\npub mod mutant_schemata;\n")
    json.dump({"mutants": table, "skipped": sorted(skip)}, open(os.path.join(wt, "mutants-schemata.json"), "w"), indent=1)
    print(f"instrumented {sum(1 for v in by_fn.values() for m in v if m['id'] not in skip)} mutants in {len(by_fn)} functions of {len(files)} files")


def unviable(wt, cargo_output):
    """Ids of the arms rustc's errors point into (the arm comments carry the ids)."""
    ids = set()
    for line in open(cargo_output, errors="replace"):
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-message" or msg["message"].get("level") != "error":
            continue
        for sp in msg["message"].get("spans", []):
            if not sp.get("is_primary"):
                continue
            path = os.path.join(wt, sp["file_name"])
            if not os.path.exists(path):
                continue
            src = open(path, encoding="utf-8").read().split("\n")
            # Walk up from the error to the nearest arm header: `N => { // mutant N: ...`
            for ln in range(sp["line_start"] - 1, -1, -1):
                mm = re.match(r"\s+(\d+) => \{ // mutant (\d+):", src[ln])
                if mm:
                    ids.add(int(mm.group(1)))
                    break
                if re.match(r"\s+_ => \{$", src[ln]) or src[ln].startswith("match crate::mutant_schemata"):
                    break
    print(" ".join(str(i) for i in sorted(ids)))


def run_tests(binary, wt, mutant, filters, timeout, log_path):
    """Runs the test binary; stops at the first failed test. Returns (outcome, detail, seconds)."""
    env = dict(os.environ, AUTODOCTOR_MUTANT=str(mutant))
    args = [binary, *filters]
    for s in SKIP:
        args += ["--skip", s]
    t0 = time.time()
    with open(log_path, "w") as log:
        log.write(f"$ AUTODOCTOR_MUTANT={mutant} {' '.join(args)}\n")
        log.flush()
        p = subprocess.Popen(args, cwd=wt, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, errors="replace", start_new_session=True)
        failed = None
        timed_out = False
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        while True:
            if time.time() - t0 > timeout:
                timed_out = True
                break
            if not sel.select(timeout=5):
                if p.poll() is not None:
                    break
                continue
            line = p.stdout.readline()
            if not line:
                break
            log.write(line)
            mm = re.match(r"^test (\S+) \.\.\. FAILED$", line.strip())
            if mm and failed is None:
                failed = mm.group(1)
                break
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        rest = p.stdout.read() if not timed_out and failed is None else ""
        log.write(rest)
        rc = p.wait()
    secs = round(time.time() - t0, 1)
    if timed_out:
        return "timeout", "", secs
    if failed:
        return "caught", failed, secs
    if rc == 0:
        return "missed", "", secs
    return "caught", f"test binary exited {rc}", secs


def run(wt, binary, out):
    os.makedirs(os.path.join(out, "log"), exist_ok=True)
    meta = json.load(open(os.path.join(wt, "mutants-schemata.json")))
    skipped = set(meta["skipped"])
    results_path = os.path.join(out, "outcomes.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    # Baselines: the unmutated binary must pass every group it is judged by.
    groups = {tuple(v) for v in STAGE1.values()} | {tuple(STAGE2), tuple(STAGE3)}
    base = results.get("baseline", {})
    for g in sorted(groups):
        k = " ".join(g)
        if base.get(k, {}).get("outcome") == "missed":  # "missed" = every test passed
            continue
        o, d, s = run_tests(binary, wt, 0, list(g), 3600, os.path.join(out, "log", f"baseline-{len(base)}.log"))
        base[k] = {"outcome": o, "detail": d, "seconds": s}
        results["baseline"] = base
        json.dump(results, open(results_path, "w"), indent=1)
        print(f"baseline [{k}]: {'passed' if o == 'missed' else o + ' ' + d} in {s} s", flush=True)
        if o != "missed":
            sys.exit("the unmutated tests do not pass: no mutant can be judged")
    for m in meta["mutants"]:
        key = str(m["id"])
        if m["id"] in skipped:
            results[key] = {**m, "outcome": "unviable"}
            continue
        if key in results and results[key].get("outcome") in ("caught", "missed", "timeout"):
            continue
        r = {**m, "outcome": "missed", "caught_by": "", "stage": 0, "seconds": 0.0}
        for stage, g in enumerate([STAGE1[m["file"]], STAGE2, STAGE3], start=1):
            t = max(300, 3 * base[" ".join(g)]["seconds"])
            o, d, s = run_tests(binary, wt, m["id"], g, t, os.path.join(out, "log", f"{m['id']}-stage{stage}.log"))
            r.update(outcome=o, caught_by=d, stage=stage, seconds=round(r["seconds"] + s, 1))
            if o != "missed":
                break
        results[key] = r
        json.dump(results, open(results_path, "w"), indent=1)
        print(f"{m['id']:>3} {r['outcome']:<8} {r['seconds']:>6} s  {m['name']}"
              + (f"  <- {r['caught_by']}" if r["caught_by"] else ""), flush=True)
    summary(results, out)


def summary(results, out):
    ms = [v for k, v in results.items() if k != "baseline"]
    count = {o: sum(1 for v in ms if v["outcome"] == o) for o in ("caught", "missed", "timeout", "unviable")}
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(f"mutants {len(ms)}: " + ", ".join(f"{k} {v}" for k, v in count.items()) + "\n")
        for o in ("missed", "timeout", "unviable"):
            for v in ms:
                if v["outcome"] == o:
                    f.write(f"{o}: {v['name']}\n")
    print(open(os.path.join(out, "summary.txt")).read())


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "instrument":
        skip = {int(x) for x in sys.argv[5:]} if len(sys.argv) > 4 and sys.argv[4] == "--skip" else set()
        instrument(sys.argv[2], sys.argv[3], skip)
    elif cmd == "unviable":
        unviable(sys.argv[2], sys.argv[3])
    elif cmd == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print(__doc__)
        sys.exit(2)
