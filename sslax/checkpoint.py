"""Checkpoints: a pytree of arrays (a training state, finished results) in one file, written
atomically and verified when read.

Format: a short magic line, a JSON header (format version, free-form metadata, the SHA-256 of
the payload, the shape and dtype of every leaf) and a msgpack payload of the leaves
(``flax.serialization``, which stores NumPy arrays natively). A checkpoint is a few hundred
kilobytes for a network (parameters, best parameters and Adam's moments), so one file
written by :func:`sslax.fileio.write_atomic` (temporary file, fsync, rename) is both the
simplest and the safest choice: a kill at any moment leaves the previous checkpoint or the
new one. Orbax's directory-per-step layout and background threads buy nothing at this
size. The checksum turns a truncated or edited file into one clear error instead of a msgpack
exception, and reading checks every leaf against a template of the expected structure.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from sslax.fileio import FileFormatError, write_atomic

MAGIC = b"sslax-checkpoint\n"
FORMAT = 1


def to_bytes(tree: Any, meta: dict[str, Any] | None = None) -> bytes:
    """Serialise ``tree`` (a pytree of host or device arrays) with ``meta`` (JSON-able)."""
    leaves = [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]
    payload = serialization.msgpack_serialize({str(i): x for i, x in enumerate(leaves)})
    header = {"format": FORMAT, "meta": meta or {}, "sha256": hashlib.sha256(payload).hexdigest(),
              "leaves": [[list(x.shape), str(x.dtype)] for x in leaves]}
    head = json.dumps(header).encode()
    return MAGIC + len(head).to_bytes(8, "little") + head + payload


def save(path: str | Path, tree: Any, meta: dict[str, Any] | None = None) -> None:
    """Write ``tree`` and ``meta`` to ``path`` atomically."""
    write_atomic(Path(path), to_bytes(tree, meta))


def read_meta(path: str | Path) -> dict[str, Any]:
    """The metadata of a checkpoint (cheap: the payload is checked but not decoded)."""
    header, _ = _read(Path(path))
    return header["meta"]


def load(path: str | Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """Read a checkpoint written by :func:`save`; returns ``(tree, meta)``.

    ``template`` has the expected structure, shapes and dtypes (arrays or
    ``jax.ShapeDtypeStruct``s); the result has its structure, with NumPy leaves. Raises
    :class:`FileFormatError` (naming the file) for a damaged, foreign or mismatched file.
    """
    path = Path(path)
    header, payload = _read(path)
    try:
        stored = serialization.msgpack_restore(payload)
    except Exception as error:  # msgpack raises several unrelated types
        raise FileFormatError(f"{str(path)!r} is damaged: its data cannot be decoded "
                              f"({type(error).__name__})") from None
    expected, treedef = jax.tree.flatten(template)
    if len(stored) != len(expected):
        raise FileFormatError(f"{str(path)!r} does not belong to this run: it holds "
                              f"{len(stored)} arrays, {len(expected)} expected")
    leaves = []
    for i, want in enumerate(expected):
        got = np.asarray(stored[str(i)])
        want_shape, want_dtype = tuple(np.shape(want)), np.dtype(want.dtype)
        if got.shape != want_shape or got.dtype != want_dtype:
            raise FileFormatError(
                f"{str(path)!r} does not belong to this run: array {i} is {got.dtype}"
                f"{list(got.shape)}, {want_dtype}{list(want_shape)} expected")
        leaves.append(got)
    return jax.tree.unflatten(treedef, leaves), header["meta"]


def _read(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileFormatError(f"{str(path)!r} does not exist") from None
    except OSError as error:
        raise FileFormatError(f"cannot read {str(path)!r}: {error.strerror}") from None
    if not data.startswith(MAGIC):
        raise FileFormatError(f"{str(path)!r} is not an sslax checkpoint")
    start = len(MAGIC)
    size = int.from_bytes(data[start:start + 8], "little")
    try:
        header = json.loads(data[start + 8:start + 8 + size])
        payload = data[start + 8 + size:]
        digest = header["sha256"]
    except (ValueError, KeyError, TypeError):
        raise FileFormatError(f"{str(path)!r} is damaged: its header cannot be read") from None
    if header.get("format") != FORMAT:
        raise FileFormatError(f"{str(path)!r} has checkpoint format {header.get('format')!r}; "
                              f"this sslax reads format {FORMAT}")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise FileFormatError(f"{str(path)!r} is damaged: its checksum does not match (the "
                              f"file was truncated or changed)")
    return header, payload


class Schedule:
    """When to write a checkpoint: every ``every_epochs`` epochs (0: never by count) or when
    ``every_minutes`` have passed since the last one (0: never by time)."""

    def __init__(self, every_epochs: int = 5, every_minutes: float = 10.0) -> None:
        if every_epochs < 0 or every_minutes < 0:
            raise ValueError("checkpoint intervals must be >= 0")
        self.every_epochs, self.every_minutes = every_epochs, every_minutes
        self.last_epoch, self.last_time = -1, time.monotonic()

    def due(self, epoch: int) -> bool:
        """Whether a checkpoint should be written after ``epoch`` (an epoch count)."""
        if epoch == self.last_epoch:
            return False
        by_count = self.every_epochs > 0 and epoch % self.every_epochs == 0
        by_time = (self.every_minutes > 0
                   and time.monotonic() - self.last_time >= 60 * self.every_minutes)
        return by_count or by_time

    def written(self, epoch: int) -> None:
        """Record that the state after ``epoch`` was saved."""
        self.last_epoch, self.last_time = epoch, time.monotonic()
