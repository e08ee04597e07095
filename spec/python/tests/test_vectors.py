"""Every case of spec/vectors/*.json (spec §13.1): whole input, every split into two reads,
one-octet reads (FR-DEC-1), and the encoder on every case marked "encode": true."""

import json
import os
import subprocess
import sys
import unittest

from fiforpc.frame import encode_frame
from fiforpc.receiver import Receiver

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "vectors")
FILES = ("valid.json", "invalid.json", "streams.json")


def load(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


def limits(doc, case):
    d = doc["defaults"]
    return case.get("max_frame", d["max_frame"]), case.get("max_message", d["max_message"])


def decode(doc, case, chunks):
    """Feeds `chunks` to a fresh receiver, signals end of stream unless "eof": false."""
    max_frame, max_message = limits(doc, case)
    r = Receiver(max_frame, max_message)
    events = []
    for chunk in chunks:
        r.push(chunk)
        events += r.events()
    if case.get("eof", True):
        r.finish()
        events += r.events()
    return [e.to_vector() for e in events]


class VectorTest(unittest.TestCase):
    def each_case(self):
        for name in FILES:
            doc = load(name)
            for case in doc["cases"]:
                yield name, doc, case

    def test_case_count_and_shape(self):
        # §13.1: each file is an object with description, defaults and cases.
        total = 0
        ids = set()
        for name in FILES:
            doc = load(name)
            self.assertEqual(set(doc), {"description", "defaults", "cases"}, name)
            for case in doc["cases"]:
                self.assertNotIn(case["id"], ids)
                ids.add(case["id"])
                self.assertTrue(case["requirements"], case["id"])
                for req in case["requirements"]:
                    self.assertRegex(req, r"^FR-[A-Z]+-\d+$")
            total += len(doc["cases"])
        self.assertGreaterEqual(total, 40)

    def test_whole_input(self):  # FR-DEC-1
        for name, doc, case in self.each_case():
            with self.subTest(file=name, case=case["id"]):
                data = bytes.fromhex(case["hex"])
                self.assertEqual(decode(doc, case, [data]), case["expect"])

    def test_every_two_way_split(self):  # FR-DEC-1
        for name, doc, case in self.each_case():
            data = bytes.fromhex(case["hex"])
            with self.subTest(file=name, case=case["id"]):
                for i in range(len(data) + 1):
                    got = decode(doc, case, [data[:i], data[i:]])
                    if got != case["expect"]:
                        self.assertEqual(got, case["expect"], "split at %d" % i)

    def test_one_octet_reads(self):  # FR-DEC-1
        for name, doc, case in self.each_case():
            data = bytes.fromhex(case["hex"])
            with self.subTest(file=name, case=case["id"]):
                chunks = [data[i:i + 1] for i in range(len(data))]
                self.assertEqual(decode(doc, case, chunks), case["expect"])

    def test_encode(self):  # FR-FRAME-1, FR-FRAME-2, FR-FRAME-12
        count = 0
        for name, doc, case in self.each_case():
            if not case.get("encode"):
                continue
            count += 1
            max_frame, _ = limits(doc, case)
            with self.subTest(file=name, case=case["id"]):
                out = b"".join(
                    encode_frame(f["type"], f["session"], f["request"],
                                 bytes.fromhex(f["payload"]), f["flags"],
                                 [(e["type"], bytes.fromhex(e["value"])) for e in f["extensions"]],
                                 max_frame)
                    for f in case["frames"])
                self.assertEqual(out.hex(), case["hex"])
        self.assertGreater(count, 40)

    def test_generator_matches_files(self):
        # The JSON files are exactly what generate.py writes.
        script = os.path.join(VECTORS, "generate.py")
        proc = subprocess.run([sys.executable, script, "--check"], capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)


if __name__ == "__main__":
    unittest.main()
