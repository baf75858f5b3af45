#!/usr/bin/env python3
"""Structure checks of scripts/test, beside the layer check (layers.py):

- one job per file: no non-test Rust file under src/ is longer than MAX_LINES
  (outside its inline test module),
  except the files README.md lists under "### Files over 400 lines" (each with
  its reason);
- migrations are numbered without gaps from FIRST_GAPLESS on, and no number is
  used twice (applied migrations are never renumbered, so the early gap stays).

    python3 scripts/lib/structure.py [ROOT]
"""

import os
import re
import sys

MAX_LINES = 420  # "about 400"
FIRST_GAPLESS = 11


def is_test_file(rel):
    base = os.path.basename(rel)
    parts = rel.split(os.sep)
    return base.endswith("tests.rs") or base == "testing.rs" or parts[0] == "security"


def code_lines(path):
    """Lines of a file outside its tests: an inline `#[cfg(test)] mod tests { ... }`
    (or `#[path] mod tests;`) at the end does not count."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^#\[cfg\(test\)\]\s*\n(#\[path[^\n]*\n)?mod tests\b", text, re.M)
    if m:
        text = text[: m.start()]
    return text.count("\n")


def listed_exceptions(root):
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    m = re.search(r"^### Files over 400 lines\n(.*?)(?=^#)", readme, re.S | re.M)
    if not m:
        return {}
    out = {}
    for row in re.findall(r"^\|\s*`([^`]+)`\s*\|\s*(.+?)\s*\|\s*$", m.group(1), re.M):
        out[row[0]] = row[1]
    return out


def check(root):
    problems = []
    src = os.path.join(root, "src")
    exceptions = listed_exceptions(root)
    seen = set()
    for dirpath, _dirs, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)
            if is_test_file(rel):
                continue
            lines = code_lines(path)
            key = "src/" + rel.replace(os.sep, "/")
            if lines > MAX_LINES:
                if key in exceptions:
                    seen.add(key)
                else:
                    problems.append(f"{key} has {lines} lines (at most about 400: split it by job, "
                                    "or list it under '### Files over 400 lines' in README.md with its reason)")
    for key in sorted(set(exceptions) - seen):
        problems.append(f"README.md lists {key} as a long file, but it is not over {MAX_LINES} lines (or not there)")

    numbers = []
    for name in sorted(os.listdir(os.path.join(root, "migrations"))):
        m = re.match(r"^(\d{4})_\w+\.sql$", name)
        if not m:
            problems.append(f"migrations/{name}: not named NNNN_description.sql")
            continue
        numbers.append(int(m.group(1)))
    if len(numbers) != len(set(numbers)):
        problems.append(f"migrations: a number is used twice ({numbers})")
    later = [n for n in numbers if n >= FIRST_GAPLESS]
    for a, b in zip(later, later[1:]):
        if b != a + 1:
            problems.append(f"migrations: {b:04} follows {a:04}; number new migrations without gaps")
    return problems


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    problems = check(root)
    for p in problems:
        print("structure: " + p)
    if problems:
        return 1
    print("structure: every non-test file is at most about 400 lines or listed; migrations numbered without gaps")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
