"""Pure, hardened reader for ZIP batches of declaration messages.

A sender may post a ZIP of messages instead of one message (``interfaces.md``: at most 30 members, at
most 25 MiB compressed and uncompressed, no folders; ``clarifications.md`` item 9). This module turns
the bytes of such an archive into the bytes of its members, or into one :class:`~gateway.results.Finding`
that refuses the whole archive. It is pure: bytes in, values out. It never extracts to disk, never
touches the file system or the network, and never raises for any input.

The ZIP structure is parsed here (with :mod:`struct`), not by :mod:`zipfile`, so that every limit is
checked *before* work proportional to the attacker's claims is done:

* the entry count of the end-of-central-directory record is checked before any central-directory
  entry is parsed, and only that many entries are ever parsed;
* declared sizes and ratios are checked before anything is decompressed;
* local headers and data ranges are checked for overlap with each other and with the central directory
  (the overlapped-entries zip bomb, which CPython 3.11's ``zipfile`` does not detect);
* members are inflated in chunks with an *actual* output cap (declared sizes are never trusted), so a
  lying header costs at most the remaining byte budget of the archive.

Codes (stage ``transport``, ``retourcode`` None, ``path`` None; the VECOZO code a sender will recognise
is given where one exists). All codes refuse the whole archive except ``ZIP_MEMBER_CORRUPT``:

==========================  ========================================================================  ======
code                        meaning                                                                   VECOZO
==========================  ========================================================================  ======
``TOO_LARGE``               the archive is larger than ``max_bytes``, or its members declare or       BRS06
                            actually unpack to more than ``max_bytes`` in total
``ZIP_INVALID``             not a readable ZIP: no ZIP signature at offset 0, missing or damaged      BRS15
                            end-of-central-directory record (also: bytes after it), damaged central
                            directory or local header, multi-disk archive, entry count that
                            disagrees with the central directory, local header that disagrees with
                            its central-directory entry (name or method)
``ZIP_EMPTY``               the archive holds no members                                              BRS21
``ZIP_TOO_MANY_MEMBERS``    the archive declares more than ``max_members`` entries                    BRS16
``ZIP_FOLDER``              an entry is a folder (name ending in ``/``, MS-DOS directory attribute,   BRS29
                            or Unix directory mode)
``ZIP_LINK``                an entry is a symbolic link (Unix mode ``S_IFLNK``) or an NTFS reparse    BRS15
                            point
``ZIP_UNSAFE_NAME``         a member name is empty, ``.`` or ``..``, absolute, has a drive letter,    BRS15
                            contains ``/`` or ``\\``, contains a control character, or is not valid
                            UTF-8 although flagged as such
``ZIP_DUPLICATE_NAME``      two entries have the same name                                            BRS15
``ZIP_NESTED``              a member is itself an archive: its name ends in ``.zip .gz .tgz .7z .rar  BRS15
                            .tar .bz2 .xz .zst``, or its content starts with a ZIP, gzip, 7-Zip,
                            RAR, xz, bzip2 or zstd signature or is a tar archive
``ZIP_ENCRYPTED``           a member is encrypted (flag bit 0 or 6, in the central directory or       BRS17
                            local header)
``ZIP_UNSUPPORTED_METHOD``  a member uses a compression method other than stored (0) or deflate (8)   BRS15
``ZIP_RATIO``               a member's declared or actual uncompressed size exceeds ``max_ratio``     BRS15
                            times its compressed size (a zero compressed size with non-zero output
                            exceeds any ratio)
``ZIP_OVERLAP``             member data ranges overlap each other or the central directory            BRS15
``ZIP_MEMBER_CORRUPT``      one member fails its CRC, has a corrupt or truncated deflate stream, or   BRS15
                            unpacks to a size other than the declared one without breaching a limit;
                            only that member is refused, the others are returned
==========================  ========================================================================  ======

Privacy: a finding's message says what is wrong and what is allowed. It never contains a member name or
any byte of member content (names may carry a BSN); it may contain a member's 1-based position in the
central directory and the configured limits.
"""

from __future__ import annotations

import itertools
import math
import stat
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from gateway.results import Finding

__all__ = ["ArchiveResult", "Member", "ZipLimits", "is_zip", "read_archive"]

_LOCAL_SIG = b"PK\x03\x04"
_CENTRAL_SIG = b"PK\x01\x02"
_EOCD_SIG = b"PK\x05\x06"
_Z64_LOCATOR_SIG = b"PK\x06\x07"
_Z64_EOCD_SIG = b"PK\x06\x06"

_EOCD = struct.Struct("<4sHHHHLLH")  # 22 bytes
_Z64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes
_Z64_EOCD = struct.Struct("<4sQHHLLQQQQ")  # 56 bytes
_CENTRAL = struct.Struct("<4sHHHHHHLLLHHHHHLL")  # 46 bytes
_LOCAL = struct.Struct("<4sHHHHHLLLHH")  # 30 bytes
_EXTRA_HEADER = struct.Struct("<HH")
_U64 = struct.Struct("<Q")

_MAX_COMMENT = 0xFFFF
_MAX16 = 0xFFFF
_MAX32 = 0xFFFFFFFF
_ZIP64_EXTRA_ID = 0x0001

_FLAG_ENCRYPTED = 0x0001
_FLAG_STRONG_ENCRYPTION = 0x0040
_FLAG_UTF8 = 0x0800

_STORED = 0
_DEFLATED = 8

_DOS_DIRECTORY = 0x10
_DOS_REPARSE_POINT = 0x400

_IN_CHUNK = 64 * 1024  # compressed bytes handed to zlib per call
_OUT_CHUNK = 256 * 1024  # most decompressed bytes zlib may produce per call
_HEAD = 512  # leading bytes of a member inspected for archive signatures

_NESTED_SUFFIXES = (".zip", ".gz", ".tgz", ".7z", ".rar", ".tar", ".bz2", ".xz", ".zst")
_NESTED_MAGIC = (
    b"PK\x03\x04",  # ZIP local file header
    b"PK\x05\x06",  # empty ZIP
    b"PK\x07\x08",  # spanned ZIP
    b"\x1f\x8b",  # gzip
    b"7z\xbc\xaf\x27\x1c",  # 7-Zip
    b"Rar!\x1a\x07",  # RAR 4 and 5
    b"\xfd7zXZ\x00",  # xz
    b"\x28\xb5\x2f\xfd",  # zstd
)


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Limits for one archive (defaults: ``clarifications.md`` item 9)."""

    max_members: int = 30
    max_bytes: int = 26_214_400  # 25 MiB: the compressed archive, and the total uncompressed size
    max_ratio: float = 100.0  # uncompressed/compressed size of any one member

    def __post_init__(self) -> None:
        if self.max_members < 1:
            raise ValueError("max_members must be at least 1")
        if self.max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        if not (math.isfinite(self.max_ratio) and self.max_ratio > 0):
            raise ValueError("max_ratio must be a positive finite number")


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a sound archive: its bytes, or the problem with this member only."""

    name: str  # the member name as stored (used by callers as `archive.zip!name`)
    data: bytes | None  # the member's bytes, or None when `error` is set
    error: Finding | None  # a problem with this member only


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    """The members of an archive in central-directory order, or one finding refusing the archive."""

    members: tuple[Member, ...]  # in archive (central directory) order; empty when `error` is set
    error: Finding | None  # a problem that makes the whole archive one transport failure


_DEFAULT_LIMITS = ZipLimits()


def is_zip(data: bytes) -> bool:
    """True when ``data`` starts with a ZIP local file header or an empty archive's end record."""
    return data[:4] in (_LOCAL_SIG, _EOCD_SIG)


def read_archive(data: bytes, limits: ZipLimits = _DEFAULT_LIMITS) -> ArchiveResult:
    """Read the members of the ZIP archive ``data`` within ``limits``; never raises for any input."""
    try:
        members = _read(data, limits)
    except _RefusedError as refused:
        return ArchiveResult(members=(), error=refused.finding)
    return ArchiveResult(members=members, error=None)


# --------------------------------------------------------------------------------------------------
# internals


class _RefusedError(Exception):
    """Internal control flow: the whole archive is refused with ``finding``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.finding = Finding(code, None, None, message)


def _invalid(reason: str) -> _RefusedError:
    return _RefusedError("ZIP_INVALID", f"the archive is not a readable ZIP file: {reason}")


@dataclass(frozen=True, slots=True)
class _Entry:
    index: int  # 1-based position in the central directory
    raw_name: bytes
    name: str  # decoded; undecodable UTF-8 bytes appear as lone surrogates
    flags: int
    method: int
    crc: int
    comp_size: int
    file_size: int
    external_attr: int
    offset: int  # of the local header


def _read(data: bytes, limits: ZipLimits) -> tuple[Member, ...]:
    if len(data) > limits.max_bytes:
        raise _RefusedError(
            "TOO_LARGE", f"the archive is larger than {limits.max_bytes} bytes, the most that is allowed"
        )
    if not is_zip(data):
        raise _invalid("it does not start with a ZIP signature")
    cd_offset, cd_size, count = _locate_central_directory(data, limits)
    if count == 0:
        if cd_size != 0:
            raise _invalid("its end record declares no entries but a non-empty central directory")
        raise _RefusedError("ZIP_EMPTY", "the archive holds no members; at least one message is required")
    entries = _parse_central_directory(data, cd_offset, cd_offset + cd_size, count)
    _check_entries(entries, limits)
    starts = _check_layout(data, entries, cd_offset)
    return _read_members(data, entries, starts, limits)


def _find_eocd(data: bytes) -> int:
    """Offset of the end-of-central-directory record that ends exactly at the end of ``data``, or -1."""
    size = len(data)
    low = max(0, size - _EOCD.size - _MAX_COMMENT)
    end = size - _EOCD.size + len(_EOCD_SIG)  # a record must fit in full
    while end - low >= len(_EOCD_SIG):
        pos = data.rfind(_EOCD_SIG, low, end)
        if pos < 0:
            return -1
        (comment_len,) = struct.unpack_from("<H", data, pos + 20)
        if pos + _EOCD.size + comment_len == size:
            return pos
        end = pos + len(_EOCD_SIG) - 1  # look for an earlier record
    return -1


def _locate_central_directory(data: bytes, limits: ZipLimits) -> tuple[int, int, int]:
    """(offset, size, entry count) of the central directory, checking the count before anything else."""
    eocd = _find_eocd(data)
    if eocd < 0:
        raise _invalid("its end-of-central-directory record is missing, damaged or followed by other bytes")
    _, disk, cd_disk, disk_entries, total_entries, cd_size, cd_offset, _ = _EOCD.unpack_from(data, eocd)
    cd_end = eocd
    locator = eocd - _Z64_LOCATOR.size
    if locator >= 0 and data[locator : locator + 4] == _Z64_LOCATOR_SIG:
        _, z64_disk, z64_offset, disks = _Z64_LOCATOR.unpack_from(data, locator)
        if z64_disk != 0 or disks > 1 or z64_offset + _Z64_EOCD.size > locator:
            raise _invalid("its ZIP64 end record locator is damaged")
        (sig, record_size, _, _, disk, cd_disk, disk_entries, total_entries, cd_size, cd_offset) = (
            _Z64_EOCD.unpack_from(data, z64_offset)
        )
        if sig != _Z64_EOCD_SIG or z64_offset + 12 + record_size != locator:
            raise _invalid("its ZIP64 end record is damaged")
        cd_end = z64_offset
    elif _MAX16 in (disk_entries, total_entries) or _MAX32 in (cd_size, cd_offset):
        raise _invalid("its end record refers to a ZIP64 end record that is missing")
    if disk != 0 or cd_disk != 0 or disk_entries != total_entries:
        raise _invalid("it is split over several disks, which is not supported")
    if total_entries > limits.max_members:
        raise _too_many(limits)
    if cd_offset + cd_size != cd_end:
        raise _invalid("its central directory is not where its end record says")
    return cd_offset, cd_size, total_entries


def _too_many(limits: ZipLimits) -> _RefusedError:
    return _RefusedError(
        "ZIP_TOO_MANY_MEMBERS",
        f"the archive holds more than {limits.max_members} members; at most {limits.max_members} are allowed",
    )


def _parse_central_directory(data: bytes, cd_offset: int, cd_end: int, count: int) -> list[_Entry]:
    entries: list[_Entry] = []
    pos = cd_offset
    for index in range(1, count + 1):
        if pos + _CENTRAL.size > cd_end:
            raise _invalid("its central directory is truncated")
        (
            sig,
            _made_by,
            _needed,
            flags,
            method,
            _time,
            _date,
            crc,
            comp_size,
            file_size,
            name_len,
            extra_len,
            comment_len,
            _disk,
            _internal,
            external_attr,
            offset,
        ) = _CENTRAL.unpack_from(data, pos)
        if sig != _CENTRAL_SIG:
            raise _invalid("its central directory is damaged")
        name_start = pos + _CENTRAL.size
        extra_start = name_start + name_len
        end = extra_start + extra_len + comment_len
        if end > cd_end:
            raise _invalid("its central directory is truncated")
        raw_name = data[name_start:extra_start]
        if _MAX32 in (comp_size, file_size, offset):
            file_size, comp_size, offset = _zip64_sizes(
                data[extra_start : extra_start + extra_len], file_size, comp_size, offset
            )
        encoding = "utf-8" if flags & _FLAG_UTF8 else "cp437"
        entries.append(
            _Entry(
                index=index,
                raw_name=raw_name,
                name=raw_name.decode(encoding, "surrogateescape"),
                flags=flags,
                method=method,
                crc=crc,
                comp_size=comp_size,
                file_size=file_size,
                external_attr=external_attr,
                offset=offset,
            )
        )
        pos = end
    if pos != cd_end:
        raise _invalid("its central directory holds more entries than its end record declares")
    return entries


def _zip64_sizes(extra: bytes, file_size: int, comp_size: int, offset: int) -> tuple[int, int, int]:
    """Replace the 0xFFFFFFFF markers by the values of the ZIP64 extra field (in the order of the spec)."""
    pos = 0
    while pos + _EXTRA_HEADER.size <= len(extra):
        header_id, body_len = _EXTRA_HEADER.unpack_from(extra, pos)
        body = extra[pos + _EXTRA_HEADER.size : pos + _EXTRA_HEADER.size + body_len]
        if len(body) != body_len:
            break
        if header_id == _ZIP64_EXTRA_ID:
            values = [file_size, comp_size, offset]
            used = 0
            for i, value in enumerate(values):
                if value == _MAX32:
                    if used + _U64.size > body_len:
                        raise _invalid("a ZIP64 extra field in its central directory is too short")
                    (values[i],) = _U64.unpack_from(body, used)
                    used += _U64.size
            return values[0], values[1], values[2]
        pos += _EXTRA_HEADER.size + body_len
    raise _invalid("an entry of its central directory lacks the ZIP64 extra field it refers to")


def _check_entries(entries: list[_Entry], limits: ZipLimits) -> None:
    """Whole-archive checks on the central directory, before any member data is looked at."""
    seen: dict[str, int] = {}
    total = 0
    for entry in entries:
        i = entry.index
        mode = entry.external_attr >> 16
        dos = entry.external_attr & 0xFFFF
        if entry.raw_name.endswith((b"/", b"\\")) or dos & _DOS_DIRECTORY or stat.S_ISDIR(mode):
            raise _RefusedError(
                "ZIP_FOLDER", f"member {i} of the archive is a folder; folders are not allowed"
            )
        if stat.S_ISLNK(mode) or dos & _DOS_REPARSE_POINT:
            raise _RefusedError(
                "ZIP_LINK", f"member {i} of the archive is a link; only regular files are allowed"
            )
        problem = _name_problem(entry.name)
        if problem is not None:
            raise _RefusedError(
                "ZIP_UNSAFE_NAME",
                f"the name of member {i} of the archive {problem}; a member name must be a plain file name "
                "without folders, drive letters, backslashes, control characters or '..'",
            )
        first = seen.setdefault(entry.name, i)
        if first != i:
            raise _RefusedError(
                "ZIP_DUPLICATE_NAME",
                f"member {i} of the archive has the same name as member {first}; member names must be unique",
            )
        if entry.flags & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
            raise _encrypted(i)
        if entry.method not in (_STORED, _DEFLATED):
            raise _RefusedError(
                "ZIP_UNSUPPORTED_METHOD",
                f"member {i} of the archive uses compression method {entry.method}; "
                "only stored (0) and deflate (8) are allowed",
            )
        if entry.name.lower().endswith(_NESTED_SUFFIXES):
            raise _RefusedError(
                "ZIP_NESTED",
                f"member {i} of the archive is named as an archive; nested archives are not allowed",
            )
        if entry.file_size > limits.max_ratio * entry.comp_size:
            raise _ratio(i, limits, "declares")
        total += entry.file_size
    if total > limits.max_bytes:
        raise _RefusedError(
            "TOO_LARGE",
            f"the members of the archive declare more than {limits.max_bytes} bytes in total when "
            f"uncompressed; at most {limits.max_bytes} bytes are allowed",
        )


def _is_drive_letter(name: str) -> bool:
    return len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha()


_NAME_RULES: tuple[tuple[Callable[[str], bool], str], ...] = (
    (lambda name: not name, "is empty"),
    (lambda name: name in (".", ".."), "is a relative folder reference"),
    (lambda name: any("\udc80" <= ch <= "\udcff" for ch in name), "is not valid UTF-8"),
    (lambda name: any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name), "contains a control character"),
    (lambda name: name.startswith("/"), "is absolute"),
    (_is_drive_letter, "starts with a drive letter"),
    (lambda name: "\\" in name, "contains a backslash"),
    (lambda name: "/" in name, "contains a folder"),
)


def _name_problem(name: str) -> str | None:
    """What makes ``name`` unsafe as a member name (the first rule it breaks), or None."""
    for breaks, problem in _NAME_RULES:
        if breaks(name):
            return problem
    return None


def _encrypted(index: int) -> _RefusedError:
    return _RefusedError(
        "ZIP_ENCRYPTED",
        f"member {index} of the archive is encrypted (password-protected); encrypted members are not allowed",
    )


def _ratio(index: int, limits: ZipLimits, how: str) -> _RefusedError:
    return _RefusedError(
        "ZIP_RATIO",
        f"member {index} of the archive {how} more than {limits.max_ratio:g} times its compressed size; "
        f"a compression ratio of at most {limits.max_ratio:g} is allowed",
    )


def _check_layout(data: bytes, entries: list[_Entry], cd_offset: int) -> list[int]:
    """Check local headers and overlap; return the offset of each member's data (central-directory order)."""
    starts: list[int] = []
    spans: list[tuple[int, int, int]] = []  # (local header offset, data end, index)
    for entry in entries:
        if entry.offset + _LOCAL.size > cd_offset:
            raise _invalid(f"the local header of member {entry.index} is missing")
        sig, _needed, _flags, _method, _time, _date, _crc, _cs, _us, name_len, extra_len = _LOCAL.unpack_from(
            data, entry.offset
        )
        if sig != _LOCAL_SIG:
            raise _invalid(f"the local header of member {entry.index} is damaged")
        start = entry.offset + _LOCAL.size + name_len + extra_len
        end = start + entry.comp_size
        if end > cd_offset:
            raise _RefusedError(
                "ZIP_OVERLAP",
                f"the data of member {entry.index} of the archive overlaps the central directory; "
                "member data must not overlap",
            )
        starts.append(start)
        spans.append((entry.offset, end, entry.index))
    spans.sort()
    for (_, prev_end, prev_index), (offset, _, index) in itertools.pairwise(spans):
        if offset < prev_end:
            first, second = sorted((prev_index, index))
            raise _RefusedError(
                "ZIP_OVERLAP",
                f"members {first} and {second} of the archive overlap; "
                "members must not share or overlap data",
            )
    for entry in entries:
        _, _, flags, method, _, _, _, _, _, name_len, _ = _LOCAL.unpack_from(data, entry.offset)
        name_start = entry.offset + _LOCAL.size
        if data[name_start : name_start + name_len] != entry.raw_name or method != entry.method:
            raise _invalid(f"the local header of member {entry.index} disagrees with the central directory")
        if flags & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
            raise _encrypted(entry.index)
    return starts


def _read_members(
    data: bytes, entries: list[_Entry], starts: list[int], limits: ZipLimits
) -> tuple[Member, ...]:
    members: list[Member] = []
    total = 0
    for entry, start in zip(entries, starts, strict=True):
        ratio_cap = math.floor(limits.max_ratio * entry.comp_size)
        budget = limits.max_bytes - total
        cap = min(ratio_cap, budget)
        keep = max(entry.file_size + 1, _HEAD)
        if entry.method == _STORED:
            body = data[start : start + entry.comp_size]
            produced, problem = len(body), None
        else:
            body, produced, problem = _inflate(data, start, start + entry.comp_size, cap, keep)
        if produced > cap:
            if produced > ratio_cap:
                raise _ratio(entry.index, limits, "unpacks to")
            raise _RefusedError(
                "TOO_LARGE",
                f"the members of the archive unpack to more than {limits.max_bytes} bytes in total, "
                f"more than their headers declare; at most {limits.max_bytes} bytes are allowed",
            )
        total += produced
        if _looks_like_archive(body[:_HEAD]):
            raise _RefusedError(
                "ZIP_NESTED",
                f"member {entry.index} of the archive is itself an archive; nested archives are not allowed",
            )
        if problem is None and produced != entry.file_size:
            problem = "it unpacks to a different size than its header declares"
        if problem is None and zlib.crc32(body) != entry.crc:
            problem = "its data fails the CRC check"
        if problem is None:
            members.append(Member(entry.name, body, None))
        else:
            message = f"the archive member is damaged: {problem}; the member cannot be read"
            members.append(Member(entry.name, None, Finding("ZIP_MEMBER_CORRUPT", None, None, message)))
    return tuple(members)


def _inflate(data: bytes, start: int, end: int, cap: int, keep: int) -> tuple[bytes, int, str | None]:
    """Inflate the raw deflate stream ``data[start:end]``, producing at most ``cap + 1`` bytes.

    Returns the first ``keep`` bytes of output, the number of bytes produced (more than ``cap`` means
    the cap was breached and inflation stopped) and a problem description, or None for a complete stream.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    kept: list[bytes] = []
    kept_len = 0
    produced = 0
    pending = b""
    pos = start
    try:
        while not inflater.eof:
            if not pending and pos < end:
                pending = data[pos : min(pos + _IN_CHUNK, end)]
                pos += len(pending)
            # With no input left this still drains output zlib holds back (bits it has read ahead).
            before = len(pending)
            out = inflater.decompress(pending, min(cap + 1 - produced, _OUT_CHUNK))
            pending = inflater.unconsumed_tail
            if not out and len(pending) == before:  # no progress: the stream needs input that is not there
                problem = "its compressed data ends early" if pos >= end else "its compressed data is corrupt"
                return b"".join(kept), produced, problem
            produced += len(out)
            if kept_len < keep:
                piece = out[: keep - kept_len]
                kept.append(piece)
                kept_len += len(piece)
            if produced > cap:
                break
    except zlib.error:
        return b"".join(kept), produced, "its compressed data is corrupt"
    return b"".join(kept), produced, None


def _looks_like_archive(head: bytes) -> bool:
    if head.startswith(_NESTED_MAGIC):
        return True
    if len(head) >= 4 and head.startswith(b"BZh") and head[3:4] in b"123456789":
        return True  # bzip2
    return head[257:262] == b"ustar"  # POSIX and GNU tar
