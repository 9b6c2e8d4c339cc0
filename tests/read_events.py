#!/usr/bin/python3
"""Reads a TensorBoard event file with Google's protobuf library and checks it
against metrics.jsonl, independently of fivo's own code.

    read_events.py EVENT_FILE METRICS_JSONL WORK_DIR

The Event/Summary schema below is TensorFlow's (tensorflow/core/util/
event.proto, framework/summary.proto), trimmed to the fields fivo writes;
protoc compiles it into WORK_DIR. The TFRecord framing and masked CRC32C are
re-implemented here from the format's definition. Checks:
  - the first event has file_version "brain.Event:2";
  - each later event is one train or eval line of metrics.jsonl, in order:
    same step, wall_time equal to its "time", and exactly one value per
    number of the line (tag train/<name> or eval/<split>/<name>), equal to
    that number as float32;
  - a copy of the file cut at every byte length reads back as exactly the
    events whose records fit whole (and a flipped byte is detected).
Exit 0 and prints "ok ..." on success; 77 when protoc or protobuf is missing.
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys

PROTO = """
syntax = "proto3";
package fivo_check;
message Value { string tag = 1; float simple_value = 2; }
message Summary { repeated Value value = 1; }
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what { string file_version = 3; Summary summary = 5; }
}
"""


def crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


_crc_cache = {}


def masked_cached(buf, start, end):
    # A whole record's bytes are the same in every cut copy: compute once.
    key = (start, end)
    if key not in _crc_cache:
        _crc_cache[key] = masked(buf[start:end])
    return _crc_cache[key]


def records(buf, cache=False):
    """Every whole record's payload; stops at an incomplete one, as
    TensorBoard's reader does at the end of a file still being written."""
    out, pos = [], 0
    crc = masked_cached if cache else (lambda b, s, e: masked(b[s:e]))
    while pos + 12 <= len(buf):
        (length,) = struct.unpack_from("<Q", buf, pos)
        (hcrc,) = struct.unpack_from("<I", buf, pos + 8)
        if hcrc != crc(buf, pos, pos + 8):
            raise ValueError("length CRC mismatch at offset %d" % pos)
        if pos + 12 + length + 4 > len(buf):
            break
        (dcrc,) = struct.unpack_from("<I", buf, pos + 12 + length)
        if dcrc != crc(buf, pos + 12, pos + 12 + length):
            raise ValueError("data CRC mismatch at offset %d" % pos)
        out.append(bytes(buf[pos + 12:pos + 12 + length]))
        pos += 12 + length + 4
    return out


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    path, metrics, work = sys.argv[1:4]
    protoc = shutil.which("protoc")
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        print("skip: python3-protobuf is not installed")
        return 77
    if protoc is None:
        print("skip: protoc is not installed")
        return 77
    with open(os.path.join(work, "fivo_check_event.proto"), "w") as f:
        f.write(PROTO)
    subprocess.check_call([protoc, "--python_out=" + work, "-I" + work,
                           os.path.join(work, "fivo_check_event.proto")])
    sys.path.insert(0, work)
    import fivo_check_event_pb2 as pb

    buf = open(path, "rb").read()
    recs = records(buf)
    events = []
    for r in recs:
        e = pb.Event()
        e.ParseFromString(r)
        events.append(e)
    assert events, "no events"
    assert events[0].WhichOneof("what") == "file_version", events[0]
    assert events[0].file_version == "brain.Event:2", events[0].file_version

    lines = [json.loads(l) for l in open(metrics)]
    lines = [l for l in lines if l["mode"] in ("train", "eval")]
    assert len(events) - 1 == len(lines), "%d events for %d train/eval lines" % (
        len(events) - 1, len(lines))
    nvalues = 0
    for e, line in zip(events[1:], lines):
        assert e.step == line["step"], (e.step, line["step"])
        assert e.wall_time == line["time"], (e.wall_time, line["time"])
        prefix = "train/" if line["mode"] == "train" else "eval/%s/" % line["split"]
        want = {}
        for k, v in line.items():
            if k in ("mode", "time", "step") or isinstance(v, (str, bool)):
                continue
            want[prefix + k] = float("nan") if v is None else float(v)
        got = {}
        for v in e.summary.value:
            assert v.tag not in got, "tag %s twice at step %d" % (v.tag, e.step)
            got[v.tag] = v.simple_value
        assert set(got) == set(want), (sorted(got), sorted(want))
        for tag, v in want.items():
            ok = math.isnan(got[tag]) if math.isnan(v) else got[tag] == f32(v)
            assert ok, "%s at step %d: event %r, metrics.jsonl %r" % (tag, e.step, got[tag], v)
            nvalues += 1

    # Cut at every byte: exactly the whole records before the cut survive.
    ends, pos = [], 0
    for r in recs:
        pos += 12 + len(r) + 4
        ends.append(pos)
    assert pos == len(buf), "trailing bytes after the last record"
    for cut in range(len(buf) + 1):
        got = records(buf[:cut], cache=True)
        whole = sum(1 for end in ends if end <= cut)
        assert got == recs[:whole], "cut at %d: %d records, expected %d" % (cut, len(got), whole)
    # A flipped byte in the data is refused, not misread.
    bad = bytearray(buf)
    bad[ends[0] + 14] ^= 0x40
    try:
        records(bytes(bad))
        raise AssertionError("a flipped byte went unnoticed")
    except ValueError:
        pass

    print("ok %d events, %d values, %d cuts" % (len(events), nvalues, len(buf) + 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
