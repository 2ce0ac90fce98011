"""Input adapter for the command line: paths, directories, ZIP archives and standard input -> messages.

Yields :class:`Item` values lazily and in input order: a directory's regular files sorted by name (not
recursive), a ZIP archive's members in archive order (``archive.zip!member``), standard input as ``-``.
An item either carries the message bytes, or a transport finding decided at intake (a file over the
size limit is refused without being read; a broken archive is one result for the archive).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gateway.intake.archive import ZipLimits, is_zip, read_archive
from gateway.intake.transport import transport_finding
from gateway.results import Finding

__all__ = ["InputError", "Item", "expand", "iter_items"]


class InputError(Exception):
    """A path cannot be read at all (a usage error: exit status 2). The message names the path."""


@dataclass(frozen=True, slots=True)
class Item:
    source: str
    data: bytes | None
    finding: Finding | None = None


@dataclass(frozen=True, slots=True)
class _File:
    source: str
    path: Path | None  # None = standard input


def expand(paths: Sequence[str]) -> list[_File]:
    """Resolve the command-line paths to files, checking that each can be read (else InputError)."""
    files: list[_File] = []
    for raw in paths:
        if raw == "-":
            files.append(_File("-", None))
            continue
        path = Path(raw)
        if path.is_dir():
            try:
                entries = sorted(p for p in path.iterdir() if p.is_file())
            except OSError as exc:
                raise InputError(f"cannot read directory {raw}: {exc.strerror}") from None
            files.extend(_File(str(p) if raw != "." else p.name, p) for p in entries)
        elif path.is_file():
            files.append(_File(raw, path))
        else:
            raise InputError(f"cannot read {raw}: no such file or directory")
    return files


def _read_capped(stream: BinaryIO, cap: int) -> bytes:
    """Read at most ``cap + 1`` bytes, so the caller can tell 'over the limit' without reading it all."""
    return stream.read(cap + 1)


def _too_large(source: str, limit: int) -> Item:
    return Item(source, None, transport_finding("TOO_LARGE", f"the message is larger than {limit} bytes"))


def _items_of(source: str, data: bytes, limit: int) -> Iterator[Item]:
    if is_zip(data):
        result = read_archive(data, ZipLimits(max_bytes=limit))
        if result.error is not None:
            yield Item(source, None, result.error)
            return
        for member in result.members:
            yield Item(f"{source}!{member.name}", member.data, member.error)
        return
    yield Item(source, data)


def iter_items(files: Sequence[_File], max_bytes: int, stdin: BinaryIO | None = None) -> Iterator[Item]:
    """The messages of the given files, in order. Raises InputError if a file vanished meanwhile."""
    for f in files:
        if f.path is None:
            data = _read_capped(stdin if stdin is not None else sys.stdin.buffer, max_bytes)
        else:
            try:
                size = f.path.stat().st_size
                if size > max_bytes:
                    # A message or an archive over the limit is refused unread (clarifications item 9).
                    yield _too_large(f.source, max_bytes)
                    continue
                with f.path.open("rb") as fh:
                    data = _read_capped(fh, max_bytes)
            except OSError as exc:
                raise InputError(f"cannot read {f.source}: {exc.strerror}") from None
        if len(data) > max_bytes:
            yield _too_large(f.source, max_bytes)
            continue
        yield from _items_of(f.source, data, max_bytes)
