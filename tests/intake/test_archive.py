"""Tests of the pure, hardened ZIP batch reader (``gateway.intake.archive``).

Archives are built in memory: sound ones with :mod:`zipfile`, nasty ones byte by byte with :func:`craft`
(lying sizes, overlapped entries, huge central directories, forbidden attributes ...). Every failing
scenario carries a BSN-like canary in a member name or in member content, and no finding may repeat it.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import stat
import string
import struct
import tarfile
import time
import timeit
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gateway.intake.archive as archive_module
from gateway.intake.archive import ArchiveResult, Member, ZipLimits, is_zip, read_archive
from gateway.results import Finding

CANARY = "999900006_jansen.xml"
CANARY_BSN = "999900006"
CANARY_CONTENT = b"<Bericht><Bsn>999900006</Bsn><Naam>Jansen</Naam></Bericht>"

WHOLE_ARCHIVE_CODES = {
    "TOO_LARGE",
    "ZIP_INVALID",
    "ZIP_EMPTY",
    "ZIP_TOO_MANY_MEMBERS",
    "ZIP_FOLDER",
    "ZIP_LINK",
    "ZIP_UNSAFE_NAME",
    "ZIP_DUPLICATE_NAME",
    "ZIP_NESTED",
    "ZIP_ENCRYPTED",
    "ZIP_UNSUPPORTED_METHOD",
    "ZIP_RATIO",
    "ZIP_OVERLAP",
}

LOCAL = struct.Struct("<4sHHHHHLLLHH")
CENTRAL = struct.Struct("<4sHHHHHHLLLHHHHHLL")
EOCD = struct.Struct("<4sHHHHLLH")
Z64_EOCD = struct.Struct("<4sQHHLLQQQQ")
Z64_LOCATOR = struct.Struct("<4sLQL")
DOS_DATE_1980 = 0x21
UNIX_MADE_BY = (3 << 8) | 20
REGULAR_FILE = (stat.S_IFREG | 0o644) << 16
DEFAULT_MAX_BYTES = 26_214_400
MiB = 1 << 20
DEFAULT_LIMITS = ZipLimits()
GiB = 1 << 30


# --------------------------------------------------------------------------------------------------
# builders


def deflate(content: bytes) -> bytes:
    """A raw deflate stream (as stored in a ZIP) of ``content``."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream: bytes = compressor.compress(content) + compressor.flush()
    return stream


def zip_of(members: Iterable[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A sound archive written by :mod:`zipfile`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def messages(count: int, size: int = 3000) -> list[tuple[str, bytes]]:
    """``count`` XML-like members of about ``size`` bytes that compress at a modest ratio."""
    result = []
    for i in range(count):
        lines = b"".join(
            b"<Regel nr='%d'>%08d</Regel>\r\n" % (j, (i * 7919 + j * 104729) % 10**8) for j in range(200)
        )
        result.append((f"bericht_{i:02d}.xml", b"<Bericht>" + lines[:size] + b"</Bericht>"))
    return result


@dataclass(frozen=True)
class Raw:
    """One hand-crafted entry: the bytes written after its local header, and what both headers declare."""

    name: bytes
    payload: bytes
    crc: int
    file_size: int
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0
    external_attr: int = REGULAR_FILE
    comp_size: int | None = None  # declared compressed size; default len(payload)
    local_name: bytes | None = None  # default: the same as the central directory's
    local_flags: int | None = None
    local_method: int | None = None
    offset: int | None = None  # local header offset declared in the central directory
    write_local: bool = True
    zip64_in_central: bool = False  # sizes and offset as 0xFFFFFFFF markers plus a ZIP64 extra field


def raw(name: str | bytes, content: bytes, method: int = zipfile.ZIP_DEFLATED, **changes: object) -> Raw:
    """A truthful entry for ``content``; ``changes`` override any field to make it lie."""
    payload = deflate(content) if method == zipfile.ZIP_DEFLATED else content
    encoded = name.encode() if isinstance(name, str) else name
    entry = Raw(name=encoded, payload=payload, crc=zlib.crc32(content), file_size=len(content), method=method)
    return dataclasses.replace(entry, **changes)  # type: ignore[arg-type]


def local_header(entry: Raw) -> bytes:
    name = entry.name if entry.local_name is None else entry.local_name
    return (
        LOCAL.pack(
            b"PK\x03\x04",
            20,
            entry.flags if entry.local_flags is None else entry.local_flags,
            entry.method if entry.local_method is None else entry.local_method,
            0,
            DOS_DATE_1980,
            entry.crc,
            len(entry.payload) if entry.comp_size is None else entry.comp_size,
            entry.file_size,
            len(name),
            0,
        )
        + name
    )


def central_header(entry: Raw, offset: int) -> bytes:
    comp_size = len(entry.payload) if entry.comp_size is None else entry.comp_size
    sizes = (comp_size, entry.file_size, offset)
    extra = b""
    if entry.zip64_in_central:
        extra = struct.pack("<HHQQQ", 1, 24, entry.file_size, comp_size, offset)
        sizes = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    return (
        CENTRAL.pack(
            b"PK\x01\x02",
            UNIX_MADE_BY,
            20,
            entry.flags,
            entry.method,
            0,
            DOS_DATE_1980,
            entry.crc,
            sizes[0],
            sizes[1],
            len(entry.name),
            len(extra),
            0,
            0,
            0,
            entry.external_attr,
            sizes[2],
        )
        + entry.name
        + extra
    )


def eocd(count: int, cd_size: int, cd_offset: int, comment: bytes = b"", disk: int = 0) -> bytes:
    return EOCD.pack(b"PK\x05\x06", disk, disk, count, count, cd_size, cd_offset, len(comment)) + comment


def craft(
    entries: Sequence[Raw],
    *,
    count: int | None = None,
    comment: bytes = b"",
    trailer: bytes = b"",
    disk: int = 0,
) -> bytes:
    """An archive of ``entries`` laid out one after the other, then the central directory and end record."""
    out = bytearray()
    offsets = []
    for entry in entries:
        offsets.append(len(out))
        if entry.write_local:
            out += local_header(entry) + entry.payload
    cd_offset = len(out)
    for entry, offset in zip(entries, offsets, strict=True):
        out += central_header(entry, offset if entry.offset is None else entry.offset)
    count = len(entries) if count is None else count
    out += eocd(count, len(out) - cd_offset, cd_offset, comment, disk) + trailer
    return bytes(out)


def deflated_zeros(total: int, chunk: int = MiB) -> bytes:
    """A raw deflate stream of ``total`` zero bytes, cheap to build however large ``total`` is.

    One chunk is compressed by a fresh compressor and ended with a full flush (byte-aligned, no final
    block, no reference before its own start), so copies of it can be concatenated; ``03 00`` is the
    final empty block.
    """
    assert total % chunk == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return segment * (total // chunk) + b"\x03\x00"


def overlapped_bomb() -> bytes:
    """The overlapped-entries zip bomb: member A's data quotes member B's local header and shares B's data.

    Member A (the canary name) is deflated: a non-final *stored* deflate block holding B's local header,
    followed by B's deflate stream; so A unpacks to B's header plus B's content, and B lies inside A. Both
    CRCs are right, so a reader that does not check overlap reads both members.
    """
    content = messages(1)[0][1]  # compresses modestly, so only the overlap is wrong
    kernel = deflate(content)
    member_b = raw("b.xml", content)
    header_b = local_header(member_b)
    quoted = b"\x00" + struct.pack("<HH", len(header_b), len(header_b) ^ 0xFFFF) + header_b
    a_content = header_b + content
    member_a = Raw(
        name=CANARY.encode(), payload=quoted + kernel, crc=zlib.crc32(a_content), file_size=len(a_content)
    )
    header_a = local_header(member_a)
    body = header_a + quoted + kernel
    b_offset = len(header_a) + 5
    cd = central_header(member_a, 0) + central_header(member_b, b_offset)
    return body + cd + eocd(2, len(cd), len(body))


def many_entries(entries: int, *, declared: int, zip64: bool, garbage: bool = False) -> bytes:
    """An archive whose central directory holds ``entries`` entries (all pointing at one empty member).

    ``declared`` is the entry count written in the end record (ZIP64 when ``zip64``); with ``garbage`` the
    central directory is replaced by the same number of junk bytes.
    """
    name = b"leeg.xml"
    local = LOCAL.pack(b"PK\x03\x04", 20, 0, 0, 0, DOS_DATE_1980, 0, 0, 0, len(name), 0) + name
    cd = b"".join(
        CENTRAL.pack(
            b"PK\x01\x02", UNIX_MADE_BY, 20, 0, 0, 0, DOS_DATE_1980, 0, 0, 0, 13, 0, 0, 0, 0, REGULAR_FILE, 0
        )
        + b"m%08d.xml" % i
        for i in range(entries)
    )
    if garbage:
        cd = b"\xa5" * len(cd)
    cd_offset = len(local)
    if not zip64:
        return local + cd + eocd(declared & 0xFFFF, len(cd), cd_offset)
    z64_offset = cd_offset + len(cd)
    record = Z64_EOCD.pack(
        b"PK\x06\x06", Z64_EOCD.size - 12, 45, 45, 0, 0, declared, declared, len(cd), cd_offset
    )
    locator = Z64_LOCATOR.pack(b"PK\x06\x07", 0, z64_offset, 1)
    end = EOCD.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return local + cd + record + locator + end


def tar_of(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]


def data_offset(archive: bytes, name: str) -> int:
    """Offset of the data of member ``name`` in an archive written by :mod:`zipfile`."""
    header_offset: int = zipfile.ZipFile(io.BytesIO(archive)).getinfo(name).header_offset
    name_len, extra_len = struct.unpack_from("<HH", archive, header_offset + 26)
    return header_offset + LOCAL.size + int(name_len) + int(extra_len)


def assert_well_formed(result: ArchiveResult) -> None:
    """The invariants of every result: an error xor members, findings stage-less and free of the canary."""
    if result.error is not None:
        assert result.members == ()
        assert result.error.code in WHOLE_ARCHIVE_CODES
        assert_private(result.error)
    else:
        assert result.members
        for member in result.members:
            assert (member.data is None) != (member.error is None)
            if member.error is not None:
                assert member.error.code == "ZIP_MEMBER_CORRUPT"
                assert_private(member.error)


def assert_private(finding: Finding) -> None:
    assert finding.retourcode is None
    assert finding.path is None
    assert finding.message
    assert CANARY_BSN not in finding.message
    assert "jansen" not in finding.message.lower()


def refused(data: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> Finding:
    """The finding that refuses ``data`` as a whole (fails the test when the archive is not refused)."""
    result = read_archive(data, limits)
    assert_well_formed(result)
    assert result.error is not None, result.members
    return result.error


# --------------------------------------------------------------------------------------------------
# sound archives


def test_is_zip_recognises_local_header_and_empty_archive_only() -> None:
    """is_zip is true for data starting with a local file header or an empty archive's end record."""
    assert is_zip(zip_of([("a.xml", b"<a/>")]))
    assert is_zip(zip_of([]))
    assert not is_zip(b"")
    assert not is_zip(b"PK")
    assert not is_zip(CANARY_CONTENT)
    assert not is_zip(gzip.compress(b"x"))
    assert not is_zip(b"PK\x01\x02" + bytes(50))


def test_sound_archive_returns_members_in_central_directory_order_with_exact_bytes() -> None:
    """Members come back in archive order (not sorted), with their exact bytes, stored or deflated."""
    members = [("z.xml", b"<z/>"), (CANARY, CANARY_CONTENT), ("a.xml", b""), ("m.txt", bytes(range(256)))]
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        result = read_archive(zip_of(members, method))
        assert result.error is None
        assert result.members == tuple(Member(name, content, None) for name, content in members)


def test_crafted_truthful_archive_is_read() -> None:
    """The hand-crafting helpers produce archives the reader accepts (so refusals below are meaningful)."""
    data = craft([raw(CANARY, CANARY_CONTENT), raw("b.xml", b"<b/>", method=0)])
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    result = read_archive(data)
    assert result.error is None
    assert [(m.name, m.data) for m in result.members] == [(CANARY, CANARY_CONTENT), ("b.xml", b"<b/>")]


def test_data_descriptors_comments_and_zip64_fields_are_supported() -> None:
    """Streamed archives (data descriptors), archive/member comments and ZIP64 extra fields are read."""

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.chunks.append(bytes(b))
            return len(b)

    stream = Unseekable()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = b"batch comment"
        archive.writestr("a.xml", b"<a>" + b"1234567890" * 100 + b"</a>")
        with archive.open(CANARY, "w", force_zip64=True) as member:
            member.write(CANARY_CONTENT)
    streamed = b"".join(stream.chunks)
    assert struct.unpack_from("<H", streamed, 6)[0] & 0x08  # really written with a data descriptor
    result = read_archive(streamed)
    assert result.error is None
    assert [m.data for m in result.members] == [b"<a>" + b"1234567890" * 100 + b"</a>", CANARY_CONTENT]

    zip64 = craft(
        [raw(CANARY, CANARY_CONTENT, zip64_in_central=True), raw("b.xml", b"<b/>", zip64_in_central=True)]
    )
    result = read_archive(zip64)
    assert result.error is None
    assert [m.data for m in result.members] == [CANARY_CONTENT, b"<b/>"]


def test_reading_is_fast_for_a_sound_batch_of_30_small_messages() -> None:
    """A sound archive of 30 members of about 3 KB is read in well under 1 ms per member."""
    data = zip_of(messages(30))
    assert len(read_archive(data).members) == 30
    best = min(timeit.repeat(lambda: read_archive(data), number=20, repeat=5)) / 20
    assert best / 30 < 0.0005, f"{best / 30 * 1e6:.1f} µs per member"


# --------------------------------------------------------------------------------------------------
# member-level problems


def test_corrupt_stored_member_is_reported_alone_and_the_others_are_returned() -> None:
    """A stored member failing its CRC gets ZIP_MEMBER_CORRUPT; the members around it are returned intact."""
    members = [("a.xml", b"<a>first</a>"), (CANARY, CANARY_CONTENT), ("c.xml", b"<c>last</c>")]
    data = zip_of(members, zipfile.ZIP_STORED)
    broken = flip(data, data_offset(data, CANARY) + 20)
    result = read_archive(broken)
    assert_well_formed(result)
    assert [m.name for m in result.members] == ["a.xml", CANARY, "c.xml"]
    assert result.members[0] == Member("a.xml", b"<a>first</a>", None)
    assert result.members[2] == Member("c.xml", b"<c>last</c>", None)
    assert result.members[1].data is None
    assert result.members[1].error is not None
    assert result.members[1].error.code == "ZIP_MEMBER_CORRUPT"
    assert "CRC" in result.members[1].error.message


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        pytest.param(
            raw(CANARY, CANARY_CONTENT, payload=b"\x07" + bytes(40)), "corrupt", id="invalid-block-type"
        ),
        pytest.param(
            raw(CANARY, CANARY_CONTENT, payload=deflate(CANARY_CONTENT)[:-4]), "ends early", id="truncated"
        ),
        pytest.param(raw(CANARY, CANARY_CONTENT, crc=0), "CRC", id="crc"),
        pytest.param(
            raw(CANARY, CANARY_CONTENT, file_size=len(CANARY_CONTENT) + 1), "size", id="declared-larger"
        ),
        pytest.param(
            raw(CANARY, CANARY_CONTENT, file_size=len(CANARY_CONTENT) - 1), "size", id="declared-smaller"
        ),
        pytest.param(raw(CANARY, CANARY_CONTENT, method=0, file_size=3), "size", id="stored-size-lie"),
    ],
)
def test_damaged_member_among_sound_ones_is_reported_alone(entry: Raw, reason: str) -> None:
    """A member with a corrupt or truncated deflate stream, a bad CRC, or a size that differs from its
    header (without breaching a limit) gets ZIP_MEMBER_CORRUPT; the other members are returned."""
    data = craft([raw("a.xml", b"<a/>"), entry, raw("c.xml", b"<c/>", method=0)])
    result = read_archive(data)
    assert_well_formed(result)
    assert result.members[0] == Member("a.xml", b"<a/>", None)
    assert result.members[2] == Member("c.xml", b"<c/>", None)
    damaged = result.members[1]
    assert damaged.name == CANARY
    assert damaged.data is None
    assert damaged.error is not None
    assert damaged.error.code == "ZIP_MEMBER_CORRUPT"
    assert reason in damaged.error.message


# --------------------------------------------------------------------------------------------------
# limits: exactly at the limit is accepted, one over is refused


def test_member_count_at_and_over_a_small_limit() -> None:
    """With max_members=3, three members are read and four are refused with ZIP_TOO_MANY_MEMBERS."""
    limits = ZipLimits(max_members=3)
    assert len(read_archive(zip_of(messages(3, 100)), limits).members) == 3
    finding = refused(zip_of([*messages(3, 100), (CANARY, CANARY_CONTENT)]), limits)
    assert finding.code == "ZIP_TOO_MANY_MEMBERS"
    assert "more than 3 members" in finding.message


def test_member_count_at_and_over_the_default_limit() -> None:
    """With the default limits, 30 members are read and 31 are refused."""
    assert len(read_archive(zip_of(messages(30, 100))).members) == 30
    finding = refused(zip_of([*messages(30, 100), (CANARY, CANARY_CONTENT)]))
    assert finding.code == "ZIP_TOO_MANY_MEMBERS"
    assert finding.message == "the archive holds more than 30 members; at most 30 are allowed"


def test_archive_size_at_and_over_the_default_limit() -> None:
    """An archive of exactly 26,214,400 bytes is read; one byte more is refused with TOO_LARGE."""

    def archive_of(size: int) -> bytes:
        return zip_of([(CANARY, b"x" * size)], zipfile.ZIP_STORED)

    overhead = len(archive_of(0))
    at_limit = archive_of(DEFAULT_MAX_BYTES - overhead)
    assert len(at_limit) == DEFAULT_MAX_BYTES
    result = read_archive(at_limit)
    assert result.error is None
    assert result.members[0].data == b"x" * (DEFAULT_MAX_BYTES - overhead)
    over = archive_of(DEFAULT_MAX_BYTES - overhead + 1)
    assert len(over) == DEFAULT_MAX_BYTES + 1
    assert refused(over).code == "TOO_LARGE"


def test_archive_size_at_and_over_a_small_limit() -> None:
    """The compressed archive may be exactly max_bytes long; one byte less of limit refuses it."""
    data = zip_of([(CANARY, CANARY_CONTENT)], zipfile.ZIP_STORED)
    assert read_archive(data, ZipLimits(max_bytes=len(data))).error is None
    finding = refused(data, ZipLimits(max_bytes=len(data) - 1))
    assert finding.code == "TOO_LARGE"
    assert str(len(data) - 1) in finding.message


def test_total_declared_uncompressed_size_at_and_over_the_limit() -> None:
    """Members declaring exactly max_bytes in total are read; one byte more is refused with TOO_LARGE."""
    limits = ZipLimits(max_bytes=1000, max_ratio=1000)
    at_limit = zip_of([("a.xml", b"a" * 600), (CANARY, b"b" * 400)])
    assert [len(m.data or b"") for m in read_archive(at_limit, limits).members] == [600, 400]
    finding = refused(zip_of([("a.xml", b"a" * 600), (CANARY, b"b" * 401)]), limits)
    assert finding.code == "TOO_LARGE"
    assert "declare more than 1000 bytes" in finding.message


def test_total_actual_uncompressed_size_over_the_limit_despite_honest_looking_headers() -> None:
    """Members that unpack to more than max_bytes in total while declaring less are refused (TOO_LARGE);
    unpacking exactly max_bytes with a lying header is only a damaged member."""
    limits = ZipLimits(max_bytes=1000, max_ratio=1000)
    exact = craft([raw("a.xml", b"a" * 600), raw(CANARY, b"b" * 400, file_size=10)])
    result = read_archive(exact, limits)
    assert result.error is None
    assert result.members[1].error is not None
    assert result.members[1].error.code == "ZIP_MEMBER_CORRUPT"
    finding = refused(craft([raw("a.xml", b"a" * 600), raw(CANARY, b"b" * 401, file_size=10)]), limits)
    assert finding.code == "TOO_LARGE"
    assert "more than their headers declare" in finding.message


def padded(content: bytes, comp_size: int) -> bytes:
    """A deflate stream of ``content`` padded with bytes after its end to exactly ``comp_size`` bytes."""
    stream = deflate(content)
    assert len(stream) <= comp_size
    return stream + bytes(comp_size - len(stream))


def test_declared_ratio_at_and_over_the_limit() -> None:
    """A member declaring exactly 100 times its compressed size is read; one byte more is refused."""
    at_limit = craft([raw(CANARY, b"a" * 10_000, payload=padded(b"a" * 10_000, 100))])
    result = read_archive(at_limit)
    assert result.error is None
    assert result.members[0].data == b"a" * 10_000
    finding = refused(craft([raw(CANARY, b"a" * 10_001, payload=padded(b"a" * 10_001, 100))]))
    assert finding.code == "ZIP_RATIO"
    assert "declares more than 100 times" in finding.message


def test_actual_ratio_over_the_limit_behind_a_lying_header_is_refused() -> None:
    """A member that declares a harmless size but unpacks to more than 100 times its compressed size is
    refused as a whole (ZIP_RATIO); unpacking exactly 100 times is only a damaged member."""
    exact = craft([raw(CANARY, b"a" * 10_000, payload=padded(b"a" * 10_000, 100), file_size=100)])
    result = read_archive(exact)
    assert result.error is None
    assert result.members[0].error is not None
    assert result.members[0].error.code == "ZIP_MEMBER_CORRUPT"
    finding = refused(craft([raw(CANARY, b"a" * 10_001, payload=padded(b"a" * 10_001, 100), file_size=100)]))
    assert finding.code == "ZIP_RATIO"
    assert "unpacks to more than 100 times" in finding.message


def test_zero_compressed_size_with_output_exceeds_any_ratio() -> None:
    """A member with a compressed size of 0 and a non-zero uncompressed size is refused with ZIP_RATIO."""
    data = craft([raw(CANARY, b"", method=0, file_size=5)])
    assert refused(data, ZipLimits(max_ratio=1e12)).code == "ZIP_RATIO"


def test_limits_must_be_sensible() -> None:
    """ZipLimits refuses limits that would make every archive fail or disable a check."""
    with pytest.raises(ValueError, match="max_members"):
        ZipLimits(max_members=0)
    with pytest.raises(ValueError, match="max_bytes"):
        ZipLimits(max_bytes=-1)
    for ratio in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="max_ratio"):
            ZipLimits(max_ratio=ratio)


# --------------------------------------------------------------------------------------------------
# zip bombs and huge central directories


def test_deflated_zeros_helper_builds_a_valid_stream() -> None:
    """The cheap builder of deflated zeros really yields a deflate stream of that many zeros."""
    stream = deflated_zeros(4 * 65536, 65536)
    assert zlib.decompress(stream, -zlib.MAX_WBITS) == bytes(4 * 65536)


def measure(data: bytes) -> tuple[ArchiveResult, float, int]:
    """The result of reading ``data``, the seconds it took and the peak traced memory in bytes."""
    tracemalloc.start()
    try:
        started = time.perf_counter()
        result = read_archive(data)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, elapsed, peak


@pytest.mark.parametrize(
    ("declared_size", "code"),
    [pytest.param(GiB, "ZIP_RATIO", id="honest-header"), pytest.param(None, "TOO_LARGE", id="lying-header")],
)
def test_one_gib_of_deflated_zeros_is_refused_quickly_in_bounded_memory(
    declared_size: int | None, code: str
) -> None:
    """1 GiB of zeros deflated into about 1 MiB is refused in well under 2 s with a memory peak far below
    64 MB: by its declared ratio when the header is honest, and when the header declares a harmless size
    by the actual output cap (inflation stops at the 25 MiB archive budget)."""
    stream = deflated_zeros(GiB)
    assert len(stream) < 2 * MiB
    size = len(stream) if declared_size is None else declared_size
    bomb = craft([raw("a.xml", b"<a/>"), Raw(name=CANARY.encode(), payload=stream, crc=0, file_size=size)])
    result, elapsed, peak = measure(bomb)
    assert_well_formed(result)
    assert result.error is not None
    assert result.error.code == code
    assert elapsed < 2.0
    assert peak < 64 * MiB


@pytest.mark.parametrize(
    ("entries", "declared", "zip64", "garbage", "code"),
    [
        pytest.param(100_000, 100_000, True, False, "ZIP_TOO_MANY_MEMBERS", id="zip64-count"),
        pytest.param(100_000, 100_000, False, False, "ZIP_TOO_MANY_MEMBERS", id="wrapped-16-bit-count"),
        pytest.param(100_000, 100_000, True, True, "ZIP_TOO_MANY_MEMBERS", id="count-checked-before-parsing"),
        pytest.param(100_000, 65_536 + 5, False, False, "ZIP_INVALID", id="count-lies-low"),
    ],
)
def test_huge_central_directory_is_refused_without_parsing_it(
    entries: int, declared: int, zip64: bool, garbage: bool, code: str
) -> None:
    """An archive with 100,000 central-directory entries is refused from its end record in milliseconds;
    with junk instead of entries the verdict is the same (so no entry was parsed), and an end record
    that declares fewer entries than present stops after those few and finds the mismatch."""
    data = many_entries(entries, declared=declared, zip64=zip64, garbage=garbage)
    result, elapsed, _ = measure(data)
    assert_well_formed(result)
    assert result.error is not None
    assert result.error.code == code
    assert elapsed < 0.05


def test_overlapped_entries_bomb_is_refused() -> None:
    """Members whose data overlap (one member's data quoting another's header and sharing its deflate
    stream, a construction CPython 3.11's zipfile reads without complaint) are refused with ZIP_OVERLAP."""
    finding = refused(overlapped_bomb())
    assert finding.code == "ZIP_OVERLAP"
    assert finding.message == "members 1 and 2 of the archive overlap; members must not share or overlap data"


# --------------------------------------------------------------------------------------------------
# whole-archive refusals, each with a canary name or canary content


def valid() -> bytes:
    return zip_of([("a.xml", b"<a/>"), (CANARY, CANARY_CONTENT)])


def same_offset() -> bytes:
    entries = [raw(CANARY, CANARY_CONTENT), raw("b.xml", CANARY_CONTENT, write_local=False, offset=0)]
    return craft(entries)


def first_entry_patch(data: bytes, field_offset: int, fmt: str, value: int, *, central: bool) -> bytes:
    """``data`` with one header field of the first member changed (in its central or local header)."""
    base = data.index(b"PK\x01\x02") if central else 0
    patched = bytearray(data)
    struct.pack_into(fmt, patched, base + field_offset, value)
    return bytes(patched)


@dataclass(frozen=True)
class Scenario:
    """An archive that must be refused as a whole with ``code`` under ``limits``."""

    id: str
    code: str
    build: Callable[[], bytes]
    limits: ZipLimits = DEFAULT_LIMITS


SCENARIOS = [
    Scenario("archive-too-large", "TOO_LARGE", valid, ZipLimits(max_bytes=100)),
    Scenario("garbage", "ZIP_INVALID", lambda: b"\x00\x01garbage " + CANARY.encode() * 10),
    Scenario("xml-not-zip", "ZIP_INVALID", lambda: CANARY_CONTENT),
    Scenario("zip-signature-then-garbage", "ZIP_INVALID", lambda: b"PK\x03\x04" + CANARY.encode() * 10),
    Scenario("truncated", "ZIP_INVALID", lambda: valid()[: len(valid()) // 2]),
    Scenario("truncated-by-one", "ZIP_INVALID", lambda: valid()[:-1]),
    Scenario("trailing-bytes", "ZIP_INVALID", lambda: valid() + CANARY.encode()),
    Scenario("cut-central-directory", "ZIP_INVALID", lambda: craft([raw(CANARY, CANARY_CONTENT)], count=2)),
    Scenario(
        "more-entries-than-declared",
        "ZIP_INVALID",
        lambda: craft([raw(CANARY, CANARY_CONTENT), raw("b.xml", b"<b/>")], count=1),
    ),
    Scenario("multi-disk", "ZIP_INVALID", lambda: craft([raw(CANARY, CANARY_CONTENT)], disk=1)),
    Scenario(
        "zip64-marker-without-record",
        "ZIP_INVALID",
        lambda: valid()[:-22] + eocd(0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
    ),
    Scenario(
        "zip64-extra-missing",
        "ZIP_INVALID",
        lambda: first_entry_patch(craft([raw(CANARY, CANARY_CONTENT)]), 20, "<L", 0xFFFFFFFF, central=True),
    ),
    Scenario(
        "central-signature-damaged",
        "ZIP_INVALID",
        lambda: first_entry_patch(valid(), 0, "<L", 0x12345678, central=True),
    ),
    Scenario(
        "local-signature-damaged",
        "ZIP_INVALID",
        lambda: first_entry_patch(valid(), 0, "<L", 0x12345678, central=False),
    ),
    Scenario(
        "local-offset-into-central-directory",
        "ZIP_INVALID",
        lambda: craft([raw(CANARY, CANARY_CONTENT, offset=1_000_000)]),
    ),
    Scenario(
        "local-name-differs",
        "ZIP_INVALID",
        lambda: craft([raw(CANARY, CANARY_CONTENT, local_name=b"999900006_pietersen.xml")]),
    ),
    Scenario(
        "local-method-differs", "ZIP_INVALID", lambda: craft([raw(CANARY, CANARY_CONTENT, local_method=0)])
    ),
    Scenario("empty", "ZIP_EMPTY", lambda: eocd(0, 0, 0, comment=CANARY.encode())),
    Scenario("empty-by-zipfile", "ZIP_EMPTY", lambda: zip_of([])),
    Scenario(
        "too-many-members",
        "ZIP_TOO_MANY_MEMBERS",
        lambda: zip_of([*messages(30, 50), (CANARY, CANARY_CONTENT)]),
    ),
    Scenario("folder-slash", "ZIP_FOLDER", lambda: zip_of([("999900006_jansen/", b""), (CANARY, b"<a/>")])),
    Scenario(
        "folder-dos-attribute", "ZIP_FOLDER", lambda: craft([raw(CANARY, b"", method=0, external_attr=0x10)])
    ),
    Scenario(
        "folder-unix-mode",
        "ZIP_FOLDER",
        lambda: craft([raw(CANARY, b"", method=0, external_attr=(stat.S_IFDIR | 0o755) << 16)]),
    ),
    Scenario(
        "symlink",
        "ZIP_LINK",
        lambda: craft(
            [raw(CANARY, b"../../etc/passwd", method=0, external_attr=(stat.S_IFLNK | 0o777) << 16)]
        ),
    ),
    Scenario(
        "ntfs-reparse-point", "ZIP_LINK", lambda: craft([raw(CANARY, b"x", method=0, external_attr=0x400)])
    ),
    Scenario("dot-dot", "ZIP_UNSAFE_NAME", lambda: craft([raw("../" + CANARY, CANARY_CONTENT)])),
    Scenario("only-dot-dot", "ZIP_UNSAFE_NAME", lambda: craft([raw("..", CANARY_CONTENT)])),
    Scenario("only-dot", "ZIP_UNSAFE_NAME", lambda: craft([raw(".", CANARY_CONTENT)])),
    Scenario("absolute", "ZIP_UNSAFE_NAME", lambda: craft([raw("/" + CANARY, CANARY_CONTENT)])),
    Scenario("drive-letter", "ZIP_UNSAFE_NAME", lambda: craft([raw("C:" + CANARY, CANARY_CONTENT)])),
    Scenario("backslash", "ZIP_UNSAFE_NAME", lambda: craft([raw("sub\\" + CANARY, CANARY_CONTENT)])),
    Scenario("name-in-folder", "ZIP_UNSAFE_NAME", lambda: zip_of([("sub/" + CANARY, CANARY_CONTENT)])),
    Scenario("empty-name", "ZIP_UNSAFE_NAME", lambda: craft([raw("", CANARY_CONTENT)])),
    Scenario("nul-in-name", "ZIP_UNSAFE_NAME", lambda: craft([raw(CANARY + "\x00.txt", CANARY_CONTENT)])),
    Scenario(
        "bad-utf8-name",
        "ZIP_UNSAFE_NAME",
        lambda: craft([raw(b"999900006_\xff\xfe.xml", CANARY_CONTENT, flags=0x800)]),
    ),
    Scenario(
        "duplicate-name",
        "ZIP_DUPLICATE_NAME",
        lambda: craft([raw(CANARY, CANARY_CONTENT), raw(CANARY, b"<other/>")]),
    ),
    Scenario("nested-zip-name", "ZIP_NESTED", lambda: craft([raw("999900006_jansen.ZIP", b"<a/>")])),
    Scenario("nested-tgz-name", "ZIP_NESTED", lambda: craft([raw("999900006_jansen.tar.gz", b"<a/>")])),
    Scenario("nested-rar-name", "ZIP_NESTED", lambda: craft([raw("999900006_jansen.rar", b"<a/>")])),
    Scenario("nested-7z-name", "ZIP_NESTED", lambda: craft([raw("999900006_jansen.7z", b"<a/>")])),
    Scenario(
        "nested-zip-content",
        "ZIP_NESTED",
        lambda: zip_of([(CANARY, zip_of([(CANARY, CANARY_CONTENT)]))], zipfile.ZIP_STORED),
    ),
    Scenario(
        "nested-empty-zip-content",
        "ZIP_NESTED",
        lambda: craft([raw("a.xml", b"<a/>"), raw(CANARY, zip_of([]), method=0)]),
    ),
    Scenario(
        "nested-gzip-content", "ZIP_NESTED", lambda: craft([raw(CANARY, gzip.compress(CANARY_CONTENT))])
    ),
    Scenario(
        "nested-tar-content", "ZIP_NESTED", lambda: craft([raw(CANARY, tar_of(CANARY, CANARY_CONTENT))])
    ),
    Scenario("encrypted", "ZIP_ENCRYPTED", lambda: craft([raw(CANARY, CANARY_CONTENT, flags=0x1)])),
    Scenario(
        "encrypted-local-only", "ZIP_ENCRYPTED", lambda: craft([raw(CANARY, CANARY_CONTENT, local_flags=0x1)])
    ),
    Scenario(
        "aes-encrypted", "ZIP_ENCRYPTED", lambda: craft([raw(CANARY, CANARY_CONTENT, flags=0x1, method=99)])
    ),
    Scenario("bzip2", "ZIP_UNSUPPORTED_METHOD", lambda: craft([raw(CANARY, CANARY_CONTENT, method=12)])),
    Scenario("lzma", "ZIP_UNSUPPORTED_METHOD", lambda: craft([raw(CANARY, CANARY_CONTENT, method=14)])),
    Scenario("deflate64", "ZIP_UNSUPPORTED_METHOD", lambda: craft([raw(CANARY, CANARY_CONTENT, method=9)])),
    Scenario("declared-ratio", "ZIP_RATIO", lambda: zip_of([(CANARY, bytes(100_000))])),
    Scenario("actual-ratio", "ZIP_RATIO", lambda: craft([raw(CANARY, bytes(100_000), file_size=10)])),
    Scenario("zero-compressed-size", "ZIP_RATIO", lambda: craft([raw(CANARY, b"", method=0, file_size=1)])),
    Scenario(
        "declared-total",
        "TOO_LARGE",
        lambda: zip_of([(CANARY, CANARY_CONTENT * 10)]),
        ZipLimits(max_bytes=500),
    ),
    Scenario(
        "actual-total",
        "TOO_LARGE",
        lambda: craft([raw(CANARY, CANARY_CONTENT * 10, file_size=5)]),
        ZipLimits(max_bytes=500),
    ),
    Scenario("overlapped-bomb", "ZIP_OVERLAP", overlapped_bomb),
    Scenario("same-local-header", "ZIP_OVERLAP", same_offset),
    Scenario(
        "data-runs-into-central-directory",
        "ZIP_OVERLAP",
        lambda: craft([raw(CANARY, CANARY_CONTENT, comp_size=len(deflate(CANARY_CONTENT)) + 10)]),
    ),
]


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s.id) for s in SCENARIOS])
def test_unsafe_archive_is_refused_as_a_whole_without_revealing_names_or_content(scenario: Scenario) -> None:
    """Each attack or defect refuses the whole archive with its own stage-less code; the message is a
    sentence that never contains a member name or member content (the canary BSN in either)."""
    finding = refused(scenario.build(), scenario.limits)
    assert finding.code == scenario.code, finding.message
    assert finding.message.startswith(("the ", "member"))


def test_every_documented_code_is_exercised_and_documented() -> None:
    """Each whole-archive code has a scenario, and every code appears in the module's code table."""
    assert {s.code for s in SCENARIOS} == WHOLE_ARCHIVE_CODES
    assert archive_module.__doc__ is not None
    for code in [*WHOLE_ARCHIVE_CODES, "ZIP_MEMBER_CORRUPT"]:
        assert f"``{code}``" in archive_module.__doc__


# --------------------------------------------------------------------------------------------------
# property tests


BASES = [
    zip_of(
        [("a.xml", b"<a>" + b"x" * 200 + b"</a>"), (CANARY, CANARY_CONTENT), ("c.txt", b"0123456789" * 30)]
    ),
    zip_of([(CANARY, CANARY_CONTENT), ("b.xml", bytes(range(256)))], zipfile.ZIP_STORED),
    craft([raw(CANARY, CANARY_CONTENT, zip64_in_central=True), raw("b.xml", b"<b/>" * 50)]),
    zip_of([(CANARY, CANARY_CONTENT)]),
]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("set"), st.integers(min_value=0), st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01])),
    st.tuples(st.just("truncate"), st.integers(min_value=0), st.just(0)),
    st.tuples(st.just("insert"), st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
    st.tuples(st.just("delete"), st.integers(min_value=0), st.just(0)),
)


def mutate(data: bytes, operations: Iterable[tuple[str, int, int]]) -> bytes:
    buffer = bytearray(data)
    for kind, position, value in operations:
        if not buffer:
            break
        at = position % len(buffer)
        if kind == "flip":
            buffer[at] ^= value
        elif kind == "set":
            buffer[at] = value
        elif kind == "truncate":
            del buffer[at:]
        elif kind == "insert":
            buffer.insert(at, value)
        else:
            del buffer[at]
    return bytes(buffer)


@settings(max_examples=400, deadline=None, database=None)
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.binary(max_size=600).map(lambda b: b"PK\x03\x04" + b),
        st.tuples(st.binary(max_size=300), st.binary(min_size=18, max_size=18), st.binary(max_size=40)).map(
            lambda t: b"PK\x03\x04" + t[0] + b"PK\x05\x06" + t[1] + t[2]
        ),
    )
)
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Any byte string yields a well-formed result: an error, or members each with data xor error."""
    assert_well_formed(read_archive(data))
    assert_well_formed(read_archive(data, ZipLimits(max_members=2, max_bytes=400, max_ratio=2)))


@settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(BASES), operations=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_archives_never_raise_and_never_leak_the_canary(
    base: bytes, operations: list[tuple[str, int, int]]
) -> None:
    """Byte flips, overwrites, truncations, insertions and deletions of valid archives never raise; every
    result is an error or members, and no finding repeats the canary name or content."""
    assert_well_formed(read_archive(mutate(base, operations)))


names = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=24)
contents = st.binary(max_size=4000).map(lambda b: b"<" + b).filter(lambda b: b[257:262] != b"ustar")


@settings(max_examples=150, deadline=None, database=None)
@given(
    members=st.lists(
        st.tuples(names.map(lambda n: n + ".xml"), contents, st.booleans()),
        min_size=1,
        max_size=30,
        unique_by=lambda m: m[0],
    )
)
def test_valid_archives_return_exactly_their_members(members: list[tuple[str, bytes, bool]]) -> None:
    """An archive built by zipfile from any list of uniquely named members (stored or deflated) is read
    back as exactly those members, in order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, deflated in members:
            archive.writestr(name, content, zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED)
    result = read_archive(buffer.getvalue(), ZipLimits(max_ratio=1_000_000))
    assert result.error is None
    assert result.members == tuple(Member(name, content, None) for name, content, _ in members)


@settings(max_examples=200, deadline=None, database=None)
@given(
    pieces=st.lists(
        st.one_of(
            st.binary(min_size=1, max_size=60),
            st.integers(1, 3000).map(bytes),
            st.integers(1, 800).map(lambda n: b"<a/>" * n),
        ),
        min_size=1,
        max_size=8,
    ),
    level=st.integers(0, 9),
    in_chunk=st.integers(1, 300),
    out_chunk=st.integers(1, 4000),
)
def test_inflation_in_any_chunking_returns_exact_bytes(
    pieces: list[bytes], level: int, in_chunk: int, out_chunk: int
) -> None:
    """However input and output chunks fall (including output zlib holds back after the last input byte),
    a deflated member is read back exactly; chunk sizes are shrunk here to hit every boundary."""
    content = b"<" + b"".join(pieces)
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = compressor.compress(content) + compressor.flush()
    data = craft([raw(CANARY, content, payload=stream), raw("b.xml", b"<b/>")])
    with (
        mock.patch.object(archive_module, "_IN_CHUNK", in_chunk),
        mock.patch.object(archive_module, "_OUT_CHUNK", out_chunk),
    ):
        result = read_archive(data, ZipLimits(max_ratio=1_000_000))
    assert result.error is None
    assert result.members == (Member(CANARY, content, None), Member("b.xml", b"<b/>", None))
