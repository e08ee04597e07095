#!/usr/bin/env python3
"""Requirement traceability: which FR- ids of spec/FRAMING.md are named by which tests.

Scans the spec for requirement ids (``**[FR-...]**``) and every test source of the repository
(Rust tests, Python tests, the conformance harness, the test vectors) for mentions of them, then
prints one line per id with the number of places that name it, and the ids no test names.

    python3 spec/tools/trace.py            # table, then the untested ids
    python3 spec/tools/trace.py --strict   # exit status 1 if an id is untested
"""

import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
ID = re.compile(r"FR-[A-Z]+-\d+")

# Where tests live: file globs, relative to the repository root.
TEST_GLOBS = [
    "tests/**/*.rs",
    "crates/*/tests/**/*.rs",
    "crates/**/src/**/*tests*.rs",
    "crates/**/src/**/tests/*.rs",
    "crates/protocol/src/fuzzing/*.rs",
    "spec/python/tests/*.py",
    "spec/conformance/*.py",
    "spec/vectors/*.json",
]


def spec_ids():
    text = (ROOT / "spec" / "FRAMING.md").read_text()
    ids = re.findall(r"\*\*\[(FR-[A-Z]+-\d+)\]", text)
    return sorted(set(ids), key=sort_key)


def sort_key(rid):
    area, num = rid.rsplit("-", 1)
    return (area, int(num))


def inline_test_modules():
    """Rust sources with an inline ``#[cfg(test)] mod tests { ... }``: only that part counts."""
    for path in ROOT.glob("crates/**/src/**/*.rs"):
        text = path.read_text()
        start = text.find("#[cfg(test)]\nmod tests {")
        if start >= 0:
            yield path, text[start:]


def mentions():
    found = {}
    seen = set()
    for pattern in TEST_GLOBS:
        for path in ROOT.glob(pattern):
            if path in seen or "target" in path.parts:
                continue
            seen.add(path)
            for rid in ID.findall(path.read_text(errors="replace")):
                found.setdefault(rid, set()).add(path.relative_to(ROOT))
    for path, text in inline_test_modules():
        for rid in ID.findall(text):
            found.setdefault(rid, set()).add(path.relative_to(ROOT))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="fail if an id is untested")
    args = parser.parse_args()
    ids = spec_ids()
    found = mentions()
    untested = []
    for rid in ids:
        files = found.get(rid, set())
        print(f"{rid:14} {len(files):3} file(s)")
        if not files:
            untested.append(rid)
    unknown = sorted(set(found) - set(ids), key=sort_key)
    print(f"\n{len(ids)} requirement ids, {len(ids) - len(untested)} named by tests")
    print("untested: " + (", ".join(untested) if untested else "none"))
    if unknown:
        print("named by tests but not in the spec: " + ", ".join(unknown))
    return 1 if args.strict and untested else 0


if __name__ == "__main__":
    sys.exit(main())
