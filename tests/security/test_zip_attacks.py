"""ZIP attacks over HTTP (checklist 29): bombs, traversal, oversize and damaged members, refused as a whole.

The archive reader is tested in depth in ``tests/intake/test_archive.py``; here every one of its attack
scenarios (with the default limits) and a few large ones go through the HTTP intake: ``200`` with one
``transport`` result whose source is the archive, the reader's code, under a second, nothing handed over,
and neither the member names nor their content (a BSN canary in both) in the answer.
"""

from __future__ import annotations

import io
import os
import resource
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.intake.archive import ZipLimits
from tests.intake.test_archive import (
    CANARY,
    CANARY_BSN,
    CANARY_CONTENT,
    SCENARIOS,
    GiB,
    MiB,
    Raw,
    craft,
    deflated_zeros,
    raw,
    zip_of,
)
from tests.security.common import minimiser_factory
from tests.security.tally import record
from tests.service.test_http import ZIP, config_for, declaration, outbox_files, run, serving

LIMIT_25_MIB = 26_214_400


@dataclass(frozen=True)
class ZipAttack:
    name: str
    code: str
    build: Callable[[], bytes]


def _bomb(declared: int | None) -> bytes:
    stream = deflated_zeros(GiB)  # 1 GiB of zeros in about 1 MiB: a 1000:1 member
    size = len(stream) if declared is None else declared
    return craft([raw("a.xml", b"<a/>"), Raw(name=CANARY.encode(), payload=stream, crc=0, file_size=size)])


ATTACKS: tuple[ZipAttack, ...] = (
    *(
        ZipAttack(s.id, s.code, s.build)
        for s in SCENARIOS
        if s.limits == ZipLimits() and s.code != "TOO_LARGE"
    ),
    ZipAttack("bomb-1000-to-1-honest-header", "ZIP_RATIO", lambda: _bomb(GiB)),  # refused by its header
    ZipAttack("bomb-1000-to-1-lying-header", "TOO_LARGE", lambda: _bomb(None)),  # by the output cap
    ZipAttack("bomb-lying-4MiB-header", "TOO_LARGE", lambda: _bomb(4 * MiB)),
)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def post_archive(tmp_path: Path, body: bytes) -> tuple[int, dict[str, object], float]:
    """Post ``body`` as application/zip to an intake with the real policy; (status, answer, seconds)."""
    out: dict[str, object] = {}
    config = config_for(tmp_path, max_bytes=LIMIT_25_MIB, minimiser_factory=minimiser_factory)

    async def scenario() -> None:
        async with serving(config) as client:
            started = time.perf_counter()
            response = await client.post("/v1/declarations", content=body, headers=ZIP)
            out["elapsed"] = time.perf_counter() - started
            out["status"] = response.status_code
            out["text"] = response.text
            out["json"] = response.json()

    run(scenario)
    status, elapsed = out["status"], out["elapsed"]
    assert isinstance(status, int)
    assert isinstance(elapsed, float)
    return status, out, elapsed


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_zip_attack_over_http_is_one_transport_result(attack: ZipAttack, tmp_path: Path) -> None:
    """The whole archive is one transport result (source ``upload.zip``) with the reader's code, answered
    within a second in bounded memory; nothing is handed over; no member name or content is echoed."""
    body = attack.build()
    before = peak_rss_mib()
    status, out, elapsed = post_archive(tmp_path, body)
    assert status == 200
    answer = out["json"]
    assert isinstance(answer, dict)
    (result,) = answer["results"]
    assert result["source"] == "upload.zip"
    assert (result["valid"], result["stage"], result["message_type"]) == (False, "transport", None)
    assert [e["code"] for e in result["errors"]] == [attack.code]
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert peak_rss_mib() - before < 100
    text = str(out["text"])
    assert CANARY not in text
    assert CANARY_BSN not in text
    assert outbox_files(tmp_path) == []
    record("attack.http.zip")


def test_archive_over_the_size_limit_is_413_unread(tmp_path: Path) -> None:
    """An archive body over 25 MiB is refused with 413 before the pipeline sees it."""
    body = zip_of([(CANARY, bytes(range(256)) * 4096 * 26)], zipfile.ZIP_STORED)
    assert len(body) > LIMIT_25_MIB
    status, out, elapsed = post_archive(tmp_path, body)
    assert status == 413
    assert elapsed < 2.0
    assert CANARY not in str(out["text"])
    assert outbox_files(tmp_path) == []
    record("attack.http.zip")


def test_members_unpacking_over_the_limit_are_too_large(tmp_path: Path) -> None:
    """Members at an honest, modest ratio that unpack to more than 25 MiB in total (the archive itself is
    well under the limit): TOO_LARGE, without unpacking them."""
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for i in range(3):
            archive.writestr(f"m{i}.xml", os.urandom(4_500_000).hex())  # 9 MB of hex text, ratio about 2
    body = deflated.getvalue()
    assert len(body) < LIMIT_25_MIB
    status, out, elapsed = post_archive(tmp_path, body)
    assert status == 200
    answer = out["json"]
    assert isinstance(answer, dict)
    (result,) = answer["results"]
    assert [e["code"] for e in result["errors"]] == ["TOO_LARGE"]
    assert elapsed < 1.0
    assert outbox_files(tmp_path) == []
    record("attack.http.zip")


def test_damaged_member_is_reported_alone_and_the_sound_one_is_accepted(tmp_path: Path) -> None:
    """Clarifications 9: a bad member of a sound archive is refused on its own; the others are processed."""
    sound = declaration("Z0001")
    body = bytearray(zip_of([("a.xml", sound), ("b.xml", CANARY_CONTENT)], zipfile.ZIP_STORED))
    at = bytes(body).index(CANARY_CONTENT)
    body[at + 1] ^= 0xFF  # member b's data no longer matches its CRC
    status, out, _ = post_archive(tmp_path, bytes(body))
    assert status == 200
    answer = out["json"]
    assert isinstance(answer, dict)
    first, second = answer["results"]
    assert (first["source"], first["valid"]) == ("upload.zip!a.xml", True)
    assert (second["source"], second["stage"]) == ("upload.zip!b.xml", "transport")
    assert [e["code"] for e in second["errors"]] == ["ZIP_MEMBER_CORRUPT"]
    assert "billing.jsonl" in outbox_files(tmp_path)
    assert CANARY_BSN not in str(out["text"])
