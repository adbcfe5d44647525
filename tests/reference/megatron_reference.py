#!/usr/bin/env python3
"""Cross-check of hybridize's Megatron and .npy readers/writer against the
format as Megatron-LM lays it out (megatron/core/datasets/indexed_dataset.py),
and Fast-LLM's version 3 with loss-masking spans (gpt_memmap), written here with
numpy alone.

  megatron_reference.py write DIR   -> DIR/ref_u16.{bin,idx}, DIR/ref_i32.{bin,idx},
                                       DIR/ref_spans.{bin,idx}, DIR/ref_rows.npy,
                                       DIR/expected.json
  megatron_reference.py read PREFIX -> prints {"documents": [...], "masked_spans":
                                       [...] or null} of PREFIX.{bin,idx} as JSON,
                                       read the way Megatron-LM / Fast-LLM read them
"""
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np

HEADER = b"MMIDIDX\x00\x00"
CODES = {np.uint8: 1, np.int8: 2, np.int16: 3, np.int32: 4, np.int64: 5, np.uint16: 8}
DTYPES = {code: dtype for dtype, code in CODES.items()}


def masked_spans(length, trainable):
    """Fast-LLM stores the complement of the trainable spans: [first, last] pairs of tokens without loss."""
    spans, at = [], 0
    for begin, end in trainable + [[length, length]]:
        if at < begin:
            spans.append([at, begin - 1])
        at = end
    return spans


def write_indexed(prefix: Path, documents, dtype, trainable=None) -> None:
    itemsize = np.dtype(dtype).itemsize
    with open(f"{prefix}.bin", "wb") as stream:
        for document in documents:
            stream.write(np.array(document, dtype=dtype).tobytes(order="C"))
    lengths = [len(d) for d in documents]
    pointers = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) * itemsize
    with open(f"{prefix}.idx", "wb") as stream:
        stream.write(HEADER)
        if trainable is None:
            stream.write(struct.pack("<Q", 1))
        else:  # version 3, loss-masking spans present, no preference spans
            stream.write(struct.pack("<QBB", 3, 1, 0))
        stream.write(struct.pack("<B", CODES[dtype]))
        stream.write(struct.pack("<Q", len(documents)))
        stream.write(struct.pack("<Q", len(documents) + 1))
        stream.write(np.array(lengths, dtype=np.int32).tobytes(order="C"))
        stream.write(pointers.tobytes(order="C"))
        if trainable is not None:
            masked = [masked_spans(len(d), t) for d, t in zip(documents, trainable)]
            stream.write(np.array([len(m) for m in masked], dtype=np.int32).tobytes(order="C"))
            stream.write(np.array([x for m in masked for pair in m for x in pair], dtype=np.int32).tobytes(order="C"))
        stream.write(np.arange(len(documents) + 1, dtype=np.int64).tobytes(order="C"))


def read_indexed(prefix: str):
    with open(f"{prefix}.idx", "rb") as stream:
        assert stream.read(9) == HEADER, "bad magic"
        version = struct.unpack("<Q", stream.read(8))[0]
        assert version in (1, 2, 3), "bad version"
        has_spans = version >= 2 and stream.read(1) == b"\x01"
        if version == 3:
            assert stream.read(1) == b"\x00", "preference spans are not part of this check"
        dtype = DTYPES[struct.unpack("<B", stream.read(1))[0]]
        count = struct.unpack("<Q", stream.read(8))[0]
        document_count = struct.unpack("<Q", stream.read(8))[0]
        offset = stream.tell()
    index = np.memmap(f"{prefix}.idx", mode="r", order="C")
    lengths = np.frombuffer(index, dtype=np.int32, count=count, offset=offset)
    pointers = np.frombuffer(index, dtype=np.int64, count=count, offset=offset + lengths.nbytes)
    offset += lengths.nbytes + pointers.nbytes
    masked = None
    if has_spans:
        counts = np.frombuffer(index, dtype=np.int32, count=count, offset=offset)
        pairs = np.frombuffer(index, dtype=np.int32, count=2 * int(counts.sum()), offset=offset + counts.nbytes)
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        masked = [pairs[2 * a:2 * b].reshape(-1, 2).tolist() for a, b in zip(starts[:-1], starts[1:])]
        offset += counts.nbytes + pairs.nbytes
    documents_index = np.frombuffer(index, dtype=np.int64, count=document_count, offset=offset)
    assert documents_index[0] == 0 and documents_index[-1] == count
    assert offset + documents_index.nbytes == index.size, "index size disagrees with its counts"
    data = np.memmap(f"{prefix}.bin", mode="r", order="C") if os.path.getsize(f"{prefix}.bin") else b""
    documents = [np.frombuffer(data, dtype=dtype, count=int(n), offset=int(p)).tolist() for n, p in zip(lengths, pointers)]
    return {"documents": documents, "masked_spans": masked}


def main() -> None:
    if sys.argv[1] == "write":
        out = Path(sys.argv[2])
        out.mkdir(parents=True, exist_ok=True)
        u16 = [[1, 2, 3], [], [65535, 0, 7, 7], [42]]
        i32 = [[151935, 0], [99999, 100000, 3]]
        rows = np.arange(12, dtype=np.int32).reshape(3, 4) * 1000
        write_indexed(out / "ref_u16", u16, np.uint16)
        write_indexed(out / "ref_i32", i32, np.int32)
        # Documents with their trainable spans: none, all, inner runs, runs at both ends, an empty document.
        span_docs = [[9, 8, 7, 6, 5, 4], [1, 2, 3], [4, 4, 4, 4, 4], [], [7], [300, 301, 302, 303]]
        span_trainable = [[[2, 4]], [[0, 3]], [[0, 1], [2, 3], [4, 5]], [], [], [[1, 2], [3, 4]]]
        write_indexed(out / "ref_spans", span_docs, np.uint16, span_trainable)
        np.save(out / "ref_rows.npy", rows)
        (out / "expected.json").write_text(json.dumps({"ref_u16": u16, "ref_i32": i32, "ref_rows": rows.tolist(),
                                                     "ref_spans": {"documents": span_docs, "trainable": span_trainable}}))
    else:
        print(json.dumps(read_indexed(sys.argv[2])))


if __name__ == "__main__":
    main()
