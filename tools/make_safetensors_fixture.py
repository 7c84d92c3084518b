#!/usr/bin/env python3
"""A safetensors fixture written by the reference serialisation rules, for tests/io.

Writes tests/fixtures/reference_fixture.safetensors and, next to it, the values a reader must get in
tests/fixtures/reference_fixture_expected.txt. The C++ tests load the first and compare with the second;
this script is only rerun when the fixture changes:

    python3 tools/make_safetensors_fixture.py        # from anywhere; needs only the standard library

The `safetensors` package is not used (it is not installed everywhere): the file is laid out by hand
following the reference implementation (huggingface/safetensors, `serialize` in tensor.rs):

  - 8 bytes: N, the header length, little-endian u64;
  - N bytes: compact JSON (no spaces), `__metadata__` first, then the tensors in data order,
    each {"dtype", "shape", "data_offsets": [begin, end]} relative to the data buffer, padded with
    spaces (0x20) to a multiple of 8 bytes;
  - the data buffer: tensors sorted by dtype alignment, largest first (the reference's Dtype enum
    order, descending: F64 > F32 > BF16 > F16), then by name, contiguous, little-endian, C order.

Half-precision values are written from their bit patterns (chosen to cover zero, -0, subnormals,
the largest finite value, infinities and NaN) and decoded with Python's own binary16 ('<e');
bfloat16 values are the upper 16 bits of a float32.

Expected-values format, one record per line, '#' starts a comment:

    meta <key> <value>                                   one per __metadata__ entry (no spaces)
    tensor <name> <dtype> <rank> <dims..> <values..>     values as Python repr: exact, or inf/nan
"""

import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "reference_fixture.safetensors")
EXPECTED = os.path.join(ROOT, "tests", "fixtures", "reference_fixture_expected.txt")

# The reference's Dtype enum order (only the relative order of these four matters here).
DTYPE_ORDER = {"F16": 0, "BF16": 1, "F32": 2, "F64": 3}
DTYPE_SIZE = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}


def f32(values):
    raw = b"".join(struct.pack("<f", v) for v in values)
    return raw, [struct.unpack("<f", raw[i:i + 4])[0] for i in range(0, len(raw), 4)]


def f64(values):
    return b"".join(struct.pack("<d", v) for v in values), list(values)


def f16_bits(bits):
    raw = b"".join(struct.pack("<H", b) for b in bits)
    return raw, [struct.unpack("<e", raw[i:i + 2])[0] for i in range(0, len(raw), 2)]


def bf16_bits(bits):
    raw = b"".join(struct.pack("<H", b) for b in bits)
    return raw, [struct.unpack("<f", struct.pack("<I", b << 16))[0] for b in bits]


# name -> (dtype, shape, (raw bytes, decoded values))
TENSORS = {
    "dense.weight": ("F32", [2, 3], f32([0.5, -1.25, 3.0, 1e-3, -0.0, 65504.0])),
    "dense.bias": ("F64", [3], f64([1.0 / 3.0, -2.0, 5e-324])),
    "half.values": ("F16", [3, 4], f16_bits([
        0x0001,  # smallest subnormal, 2^-24
        0x03FF,  # largest subnormal, 1023 * 2^-24
        0x0400,  # smallest normal, 2^-14
        0x3C00,  # 1
        0xC000,  # -2
        0x7BFF,  # 65504, the largest finite half
        0x7C00,  # +inf
        0xFC00,  # -inf
        0x8000,  # -0
        0x3555,  # 0.333251953125
        0x7E00,  # NaN
        0x0200,  # subnormal 2^-15
    ])),
    "bf16.values": ("BF16", [2, 3], bf16_bits([
        0x3F80,  # 1
        0xC040,  # -3
        0x0001,  # smallest subnormal, 2^-133
        0x7F80,  # +inf
        0xFF80,  # -inf
        0x3EAB,  # 0.333984375
    ])),
    "scalar": ("F32", [], f32([42.0])),
    "empty": ("F32", [0, 4], f32([])),
    "\u00fcn\u00efcode.w\u00e9ight": ("F16", [1], f16_bits([0x3E00])),  # 1.5
}

METADATA = {
    "format": "pt",
    "producer": "tools/make_safetensors_fixture.py",
    "note": "\u00fcn\u00efcode\u2713",
}


def main():
    order = sorted(TENSORS, key=lambda n: (-DTYPE_ORDER[TENSORS[n][0]], n.encode("utf-8")))
    header = {"__metadata__": METADATA}
    data = b""
    for name in order:
        dtype, shape, (raw, _) = TENSORS[name]
        count = 1
        for d in shape:
            count *= d
        assert len(raw) == count * DTYPE_SIZE[dtype], name
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(OUT, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)

    lines = ["# Expected content of reference_fixture.safetensors, written by",
             "# tools/make_safetensors_fixture.py (see its docstring for the format)."]
    for key in sorted(METADATA):
        lines.append("meta %s %s" % (key, METADATA[key]))
    for name in order:
        dtype, shape, (_, values) = TENSORS[name]
        fields = ["tensor", name, dtype, str(len(shape))] + [str(d) for d in shape]
        lines.append(" ".join(fields + [repr(float(v)) for v in values]))
    with open(EXPECTED, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d bytes) and %s" % (OUT, 8 + len(text) + len(data), EXPECTED))


if __name__ == "__main__":
    main()
