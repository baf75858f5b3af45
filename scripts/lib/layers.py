#!/usr/bin/env python3
"""The layer and import-cycle check of scripts/test.

The layers are declared once, in src/lib.rs: each group of `mod` lines there is
headed by a comment `// layer N name: what it holds`. A top-level module may
import modules of its own layer or of lower layers (smaller N), never of a
higher one, and the imports between top-level modules must have no cycle.

An import is any `crate::module` path in non-test code: `use` lines, paths in
expressions and types, and `use crate::{a, b}` groups. Test code is left out
(files named `*tests.rs` or `testing.rs`, `#[cfg(test)]` modules, and modules
lib.rs declares under `#[cfg(test)]`): it may reach anywhere.

    python3 scripts/lib/layers.py [SRC_DIR]   check (default: src)
    python3 scripts/lib/layers.py --self-test plant a cycle and an upward import,
                                              and show that both are caught
"""

import os
import re
import sys
import tempfile

LAYER_RE = re.compile(r"^\s*//\s*layer\s+(\d+)\s+(\w+)\s*:")
MOD_RE = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)*pub(?:\([^)]*\))?\s+mod\s+(\w+)\s*;|^\s*(?:#\[[^\]]*\]\s*)*mod\s+(\w+)\s*;")


def read_layers(src):
    """{module: (layer number, layer name)} from src/lib.rs, plus the test-only modules."""
    layers, test_only = {}, set()
    current = None
    pending_cfg_test = False
    with open(os.path.join(src, "lib.rs"), encoding="utf-8") as f:
        for line in f:
            m = LAYER_RE.match(line)
            if m:
                current = (int(m.group(1)), m.group(2))
                continue
            if re.match(r"^\s*#\[cfg\(all\(test|^\s*#\[cfg\(test\)\]", line):
                pending_cfg_test = True
            m = MOD_RE.match(line)
            if m:
                name = m.group(1) or m.group(2)
                if pending_cfg_test or "cfg(test" in line or "cfg(all(test" in line:
                    test_only.add(name)
                elif current is None:
                    raise SystemExit(f"src/lib.rs: module `{name}` is declared before any `// layer N name:` heading")
                else:
                    layers[name] = current
                pending_cfg_test = False
            elif line.strip() and not line.strip().startswith("#["):
                pending_cfg_test = False
    return layers, test_only


def strip_code(text):
    """Removes comments, string and char literals, and #[cfg(test)] items."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or (c == "'" and text.startswith("'\\", i)):
            j = text.find("'", i + 2)
            i = n if j < 0 else j + 1
        else:
            out.append(c)
            i += 1
    code = "".join(out)
    # Drop #[cfg(test)] items (a module or function body up to its matching brace).
    while True:
        m = re.search(r"#\[cfg\((?:all\()?test[^\]]*\]", code)
        if not m:
            break
        start = m.start()
        brace = code.find("{", m.end())
        semi = code.find(";", m.end())
        if semi >= 0 and (brace < 0 or semi < brace):
            code = code[:start] + code[semi + 1:]
            continue
        depth, j = 0, brace
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        code = code[:start] + code[j + 1:]
    return code


def imports_of(code):
    found = set(re.findall(r"\bcrate::(\w+)", code))
    for group in re.findall(r"\bcrate::\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", code):
        depth, token = 0, ""
        for ch in group + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                name = re.match(r"\s*(\w+)", token)
                if name:
                    found.add(name.group(1))
                token = ""
            else:
                token += ch
    return found


def is_test_file(rel):
    base = os.path.basename(rel)
    return base.endswith("tests.rs") or base == "testing.rs"


def scan(src):
    layers, test_only = read_layers(src)
    edges = {}  # (from, to) -> [files]
    for dirpath, _dirs, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)
            top = rel.split(os.sep)[0]
            top = top[:-3] if top.endswith(".rs") else top
            if top in ("lib", "main", "bin") or top in test_only or is_test_file(rel):
                continue
            with open(path, encoding="utf-8") as f:
                code = strip_code(f.read())
            for target in imports_of(code):
                if target != top and target in layers:
                    edges.setdefault((top, target), []).append(rel)
                elif target != top and target in test_only:
                    edges.setdefault((top, target), []).append(rel)
    return layers, test_only, edges


def cycles(nodes, edges):
    graph = {n: sorted({b for (a, b) in edges if a == n}) for n in nodes}
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def check(src):
    layers, test_only, edges = scan(src)
    problems = []
    for (a, b), files in sorted(edges.items()):
        if b in test_only:
            problems.append(f"`{a}` imports the test-only module `{b}` ({', '.join(sorted(set(files)))})")
            continue
        (la, na), (lb, nb) = layers[a], layers[b]
        if lb > la:
            problems.append(
                f"`{a}` (layer {la} {na}) imports `{b}` (layer {lb} {nb}), a higher layer: {', '.join(sorted(set(files)))}"
            )
    for comp in cycles(set(layers), {k: v for k, v in edges.items() if k[1] in layers}):
        detail = "; ".join(
            f"{a} -> {b} ({', '.join(sorted(set(edges[(a, b)])))})" for (a, b) in sorted(edges) if a in comp and b in comp
        )
        problems.append(f"import cycle between {', '.join(comp)}: {detail}")
    return layers, edges, problems


def main(argv):
    if argv[1:2] == ["--self-test"]:
        return self_test()
    src = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
    layers, edges, problems = check(src)
    if problems:
        for p in problems:
            print("layers: " + p)
        print(f"layers: {len(problems)} problem(s); the layers are declared in {src}/lib.rs")
        return 1
    print(f"layers: {len(layers)} modules in {len({l for l in layers.values()})} layers, "
          f"{len(edges)} imports between modules, no cycle and no upward import")
    return 0


def self_test():
    """Plants an upward import and then a cycle in a copy-sized tree; both must fail."""
    lib = (
        "// layer 0 core: basics\npub mod error;\n"
        "// layer 1 features: the product\npub mod alpha;\npub mod beta;\n"
        "#[cfg(test)]\nmod testing;\n"
    )
    cases = {
        "clean tree passes": ({"error.rs": "pub struct E;", "alpha.rs": "use crate::error::E;",
                               "beta.rs": "use crate::{alpha, error::E};\n#[cfg(test)]\nmod tests { use crate::testing; }",
                               "testing.rs": "use crate::beta;"}, 0),
        "upward import fails": ({"error.rs": "fn f() { crate::alpha::g() }", "alpha.rs": "pub fn g() {}",
                                 "beta.rs": "", "testing.rs": ""}, 1),
        "cycle fails": ({"error.rs": "", "alpha.rs": "use crate::beta::B; // crate::error in a comment",
                         "beta.rs": "pub struct B; fn f() { let _ = crate::alpha::A; }", "testing.rs": ""}, 1),
        "grouped use counts": ({"error.rs": "", "alpha.rs": "use crate::{error, beta::{B, C}};",
                                "beta.rs": "fn f() { crate::alpha::x(); }", "testing.rs": ""}, 1),
        "string is not an import": ({"error.rs": "const S: &str = \"crate::alpha\";", "alpha.rs": "", "beta.rs": "",
                                     "testing.rs": ""}, 0),
        "non-test code importing test code fails": ({"error.rs": "", "alpha.rs": "use crate::testing::X;",
                                                     "beta.rs": "", "testing.rs": ""}, 1),
    }
    failed = 0
    for name, (files, want) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "lib.rs"), "w") as f:
                f.write(lib)
            for fname, body in files.items():
                with open(os.path.join(d, fname), "w") as f:
                    f.write(body + "\n")
            _l, _e, problems = check(d)
            got = 1 if problems else 0
            ok = got == want
            failed += not ok
            print(f"layers self-test: {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f" (problems: {problems})"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
