#!/usr/bin/env python3
"""Cross-check of hybridize's Megatron and .npy readers/writer against the
format as Megatron-LM lays it out (megatron/core/datasets/indexed_dataset.py),
written here with numpy alone.

  megatron_reference.py write DIR   -> DIR/ref_u16.{bin,idx}, DIR/ref_i32.{bin,idx},
                                       DIR/ref_rows.npy, DIR/expected.json
  megatron_reference.py read PREFIX -> prints the documents of PREFIX.{bin,idx}
                                       as JSON, read the way Megatron-LM reads them
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np

HEADER = b"MMIDIDX\x00\x00"
CODES = {np.uint8: 1, np.int8: 2, np.int16: 3, np.int32: 4, np.int64: 5, np.uint16: 8}
DTYPES = {code: dtype for dtype, code in CODES.items()}


def write_indexed(prefix: Path, documents, dtype) -> None:
    itemsize = np.dtype(dtype).itemsize
    with open(f"{prefix}.bin", "wb") as stream:
        for document in documents:
            stream.write(np.array(document, dtype=dtype).tobytes(order="C"))
    lengths = [len(d) for d in documents]
    pointers = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) * itemsize
    with open(f"{prefix}.idx", "wb") as stream:
        stream.write(HEADER)
        stream.write(struct.pack("<Q", 1))
        stream.write(struct.pack("<B", CODES[dtype]))
        stream.write(struct.pack("<Q", len(documents)))
        stream.write(struct.pack("<Q", len(documents) + 1))
        stream.write(np.array(lengths, dtype=np.int32).tobytes(order="C"))
        stream.write(pointers.tobytes(order="C"))
        stream.write(np.arange(len(documents) + 1, dtype=np.int64).tobytes(order="C"))


def read_indexed(prefix: str):
    with open(f"{prefix}.idx", "rb") as stream:
        assert stream.read(9) == HEADER, "bad magic"
        assert struct.unpack("<Q", stream.read(8))[0] == 1, "bad version"
        dtype = DTYPES[struct.unpack("<B", stream.read(1))[0]]
        count = struct.unpack("<Q", stream.read(8))[0]
        document_count = struct.unpack("<Q", stream.read(8))[0]
        offset = stream.tell()
    index = np.memmap(f"{prefix}.idx", mode="r", order="C")
    lengths = np.frombuffer(index, dtype=np.int32, count=count, offset=offset)
    pointers = np.frombuffer(index, dtype=np.int64, count=count, offset=offset + lengths.nbytes)
    documents_index = np.frombuffer(index, dtype=np.int64, count=document_count,
                                    offset=offset + lengths.nbytes + pointers.nbytes)
    assert documents_index[0] == 0 and documents_index[-1] == count
    data = np.memmap(f"{prefix}.bin", mode="r", order="C")
    return [np.frombuffer(data, dtype=dtype, count=int(n), offset=int(p)).tolist() for n, p in zip(lengths, pointers)]


def main() -> None:
    if sys.argv[1] == "write":
        out = Path(sys.argv[2])
        out.mkdir(parents=True, exist_ok=True)
        u16 = [[1, 2, 3], [], [65535, 0, 7, 7], [42]]
        i32 = [[151935, 0], [99999, 100000, 3]]
        rows = np.arange(12, dtype=np.int32).reshape(3, 4) * 1000
        write_indexed(out / "ref_u16", u16, np.uint16)
        write_indexed(out / "ref_i32", i32, np.int32)
        np.save(out / "ref_rows.npy", rows)
        (out / "expected.json").write_text(json.dumps({"ref_u16": u16, "ref_i32": i32, "ref_rows": rows.tolist()}))
    else:
        print(json.dumps(read_indexed(sys.argv[2])))


if __name__ == "__main__":
    main()
