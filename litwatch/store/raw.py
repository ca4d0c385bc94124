"""The raw archive: records exactly as their source sent them, compressed in blocks.

A batch of records is stored as one zstd frame (a block of ``raw_blocks``); each record
points at its place in the decompressed block. Compressing a batch together is what makes
this cheap: zstd on a megabyte of XML runs at hundreds of megabytes per second and shrinks
it about tenfold, where compressing each record apart costs ten times more for less.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import Any, Iterator

import zstandard

CODEC = "zstd"
LEVEL = 3


@lru_cache(maxsize=1)
def _compressor() -> zstandard.ZstdCompressor:
    return zstandard.ZstdCompressor(level=LEVEL)


def compress(data: bytes) -> tuple[str, bytes]:
    """(codec, compressed bytes) of a block."""
    return CODEC, _compressor().compress(data)


def decompress(codec: str, data: bytes) -> bytes:
    if codec != CODEC:
        raise ValueError(f"unknown raw block codec {codec!r}")
    return zstandard.ZstdDecompressor().decompress(data)


def raw_record(conn: sqlite3.Connection, table: str, key_column: str, key: Any) -> bytes | None:
    """A record's raw copy, or None when it has none (stored before the archive existed)."""
    row = conn.execute(f"SELECT b.codec, b.data, r.raw_offset, r.raw_length FROM [{table}] r "
                       f"JOIN raw_blocks b ON b.id = r.raw_block WHERE r.{key_column} = ?", [key]).fetchone()
    if row is None:
        return None
    codec, data, offset, length = row
    return decompress(codec, data)[offset:offset + length]


def raw_records(conn: sqlite3.Connection, table: str, key_column: str) -> Iterator[tuple[Any, bytes]]:
    """Every record's raw copy, block by block (each block decompressed once)."""
    current, block = None, b""
    for key, block_id, offset, length in conn.execute(
            f"SELECT {key_column}, raw_block, raw_offset, raw_length FROM [{table}] "
            f"WHERE raw_block IS NOT NULL ORDER BY raw_block, raw_offset").fetchall():
        if block_id != current:
            codec, data = conn.execute("SELECT codec, data FROM raw_blocks WHERE id = ?", [block_id]).fetchone()
            block, current = decompress(codec, data), block_id
        yield key, block[offset:offset + length]
