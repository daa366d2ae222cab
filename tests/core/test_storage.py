"""Document storage: the same behaviour on a local directory and on a real S3 server.

The S3 backend runs against moto's S3 server over HTTP (boto3 talks to it exactly as to
AWS or MinIO), so signing, addressing, errors and streaming are the real ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from clinicdesk.config import MIB, Settings
from clinicdesk.core.storage import (
    CHUNK_SIZE,
    DocumentStorage,
    DocumentTooLarge,
    InvalidStorageKey,
    LocalDirectoryStorage,
    S3Storage,
    StorageUnavailable,
    StoredObjectMissing,
    storage_from_settings,
)
from tests.conftest import make_settings

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

REGION = "us-east-1"
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
PREFIX = "clinicdesk/"
BACKENDS = ("local", "s3")


@dataclass
class Backend:
    storage: DocumentStorage
    stored: Callable[[], list[str]]
    """Everything the backend holds, including partial files: to prove nothing is left."""


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> S3Client:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def bucket(s3_client: S3Client) -> str:
    name = f"documents-{os.urandom(6).hex()}"
    s3_client.create_bucket(Bucket=name)
    return name


def s3_storage(endpoint: str, bucket: str) -> S3Storage:
    return S3Storage(
        bucket,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        prefix=PREFIX,
    )


def local_files(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        root = tmp_path / "documents"
        return Backend(LocalDirectoryStorage(root), lambda: local_files(root))
    endpoint = str(request.getfixturevalue("s3_endpoint"))
    client: S3Client = request.getfixturevalue("s3_client")
    name = str(request.getfixturevalue("bucket"))

    def objects() -> list[str]:
        listing = client.list_objects_v2(Bucket=name)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    return Backend(s3_storage(endpoint, name), objects)


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_back(storage: DocumentStorage, key: str) -> bytes:
    async with await storage.open(key) as stream:
        return await stream.read_all()


# --- behaviour shared by every backend --------------------------------------------------


async def test_streamed_content_comes_back_with_its_size_and_digest(store: Backend) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 123)
    stored = await store.storage.save(chunked(data, 10_000), max_bytes=len(data))

    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await store.storage.exists(stored.key)
    async with await store.storage.open(stored.key) as stream:
        pieces = [piece async for piece in stream]
    assert b"".join(pieces) == data
    assert len(pieces) > 1
    assert all(len(piece) <= CHUNK_SIZE for piece in pieces)


async def test_bytes_in_memory_are_stored_too(store: Backend) -> None:
    stored = await store.storage.save(b"%PDF-1.7\n", max_bytes=1024)
    assert (stored.size, stored.sha256) == (9, hashlib.sha256(b"%PDF-1.7\n").hexdigest())
    assert await read_back(store.storage, stored.key) == b"%PDF-1.7\n"


async def test_content_of_exactly_the_limit_is_accepted(store: Backend) -> None:
    stored = await store.storage.save(chunked(b"x" * 2048, 1000), max_bytes=2048)
    assert stored.size == 2048


async def test_a_stream_over_the_limit_stops_at_once_and_leaves_nothing(
    store: Backend,
) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"y" * 1024

    with pytest.raises(DocumentTooLarge) as caught:
        await store.storage.save(endless(), max_bytes=2500)

    assert pulled == 3  # the third kilobyte passes the limit; nothing more is read
    assert caught.value.status_code == 413
    assert caught.value.extensions == {"max_bytes": 2500}
    assert "2.44 KiB" in caught.value.detail
    assert store.stored() == []


async def test_bytes_over_the_limit_are_refused_before_anything_is_written(
    store: Backend,
) -> None:
    with pytest.raises(DocumentTooLarge):
        await store.storage.save(b"z" * 1025, max_bytes=1024)
    assert store.stored() == []


async def test_a_failing_source_leaves_nothing(store: Backend) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a" * 5000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.storage.save(broken(), max_bytes=MIB)
    assert store.stored() == []


async def test_a_cancelled_save_leaves_nothing(store: Backend) -> None:
    async def stalled() -> AsyncIterator[bytes]:
        yield b"b" * 5000
        await asyncio.sleep(3600)
        yield b"never"

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(store.storage.save(stalled(), max_bytes=MIB), timeout=0.2)
    assert store.stored() == []


async def test_a_missing_object_is_reported_before_streaming(store: Backend) -> None:
    absent = "0" * 32
    assert not await store.storage.exists(absent)
    with pytest.raises(StoredObjectMissing) as caught:
        await store.storage.open(absent)
    assert caught.value.status_code == 404


async def test_delete_is_idempotent(store: Backend) -> None:
    stored = await store.storage.save(b"to be removed", max_bytes=1024)
    await store.storage.delete(stored.key)
    await store.storage.delete(stored.key)
    assert not await store.storage.exists(stored.key)
    with pytest.raises(StoredObjectMissing):
        await store.storage.open(stored.key)
    assert store.stored() == []


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "ab/../../../../etc/passwd",
        "/etc/passwd",
        "0123456789abcdef0123456789abcde",  # 31 digits
        "0123456789ABCDEF0123456789ABCDEF",  # upper case is never generated
        "0123456789abcdef0123456789abcdef\n",
        "0123456789abcdef/123456789abcdef",
        "",
    ],
)
async def test_keys_not_made_by_the_storage_are_refused(store: Backend, key: str) -> None:
    with pytest.raises(InvalidStorageKey):
        await store.storage.open(key)
    with pytest.raises(InvalidStorageKey):
        await store.storage.exists(key)
    with pytest.raises(InvalidStorageKey):
        await store.storage.delete(key)


async def test_a_restore_stores_content_under_the_key_its_rows_name(store: Backend) -> None:
    key = "0123456789abcdef0123456789abcdef"
    stored = await store.storage.save_as(key, chunked(b"scan" * 1000, 999), max_bytes=4000)
    assert (stored.key, stored.size) == (key, 4000)
    assert await read_back(store.storage, key) == b"scan" * 1000
    await store.storage.save_as(key, b"rescanned", max_bytes=1024)  # replaces it
    assert await read_back(store.storage, key) == b"rescanned"
    assert len(store.stored()) == 1
    with pytest.raises(InvalidStorageKey):
        await store.storage.save_as("../../etc/passwd", b"x", max_bytes=1024)
    with pytest.raises(DocumentTooLarge):
        await store.storage.save_as("f" * 32, b"x" * 2000, max_bytes=1024)
    assert len(store.stored()) == 1


async def test_concurrent_saves_get_distinct_keys(store: Backend) -> None:
    contents = [os.urandom(2000 + n) for n in range(12)]
    stored = await asyncio.gather(
        *(store.storage.save(chunked(data, 700), max_bytes=MIB) for data in contents)
    )

    assert len({item.key for item in stored}) == len(contents)
    for item, data in zip(stored, contents, strict=True):
        assert await read_back(store.storage, item.key) == data


async def test_a_stream_closed_early_releases_its_handle(store: Backend) -> None:
    stored = await store.storage.save(os.urandom(3 * CHUNK_SIZE), max_bytes=MIB)
    stream = await store.storage.open(stored.key)
    first = await anext(stream)
    await stream.aclose()
    # Warnings are errors here: an unclosed file or connection would fail the test.
    assert len(first) == CHUNK_SIZE
    assert [piece async for piece in stream] == []


# --- local directory --------------------------------------------------------------------


async def test_local_files_are_owner_only_and_sharded(tmp_path: Path) -> None:
    root = tmp_path / "documents"
    storage = LocalDirectoryStorage(root)
    stored = await storage.save(b"chart scan", max_bytes=1024)

    path = root / stored.key[:2] / stored.key[2:]
    assert path.read_bytes() == b"chart scan"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_files(root) == [f"{stored.key[:2]}/{stored.key[2:]}"]


async def test_an_existing_open_directory_is_made_private(tmp_path: Path) -> None:
    root = tmp_path / "documents"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    await LocalDirectoryStorage(root).save(b"x", max_bytes=10)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


async def test_a_broken_directory_answers_503_not_a_traceback(tmp_path: Path) -> None:
    root = tmp_path / "not-a-directory"
    root.write_bytes(b"")
    with pytest.raises(StorageUnavailable) as caught:
        await LocalDirectoryStorage(root).save(b"x", max_bytes=10)
    assert caught.value.status_code == 503
    assert str(root) not in caught.value.detail


# --- S3 ---------------------------------------------------------------------------------


async def test_s3_objects_live_under_the_prefix(
    s3_endpoint: str, s3_client: S3Client, bucket: str
) -> None:
    storage = s3_storage(s3_endpoint, bucket)
    stored = await storage.save(b"lab report", max_bytes=1024)

    listing = s3_client.list_objects_v2(Bucket=bucket)
    assert [item["Key"] for item in listing.get("Contents", [])] == [PREFIX + stored.key]
    head = s3_client.head_object(Bucket=bucket, Key=PREFIX + stored.key)
    assert head["ContentLength"] == len(b"lab report")


async def test_an_unreachable_bucket_answers_503(s3_endpoint: str) -> None:
    storage = s3_storage(s3_endpoint, "no-such-bucket")
    with pytest.raises(StorageUnavailable):
        await storage.save(b"x", max_bytes=10)
    with pytest.raises(StorageUnavailable):
        await storage.open("0" * 32)


def test_s3_without_boto3_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setitem(sys.modules, "boto3.session", None)
    with pytest.raises(RuntimeError, match=r"clinicdesk\[s3\].*uv sync --extra s3"):
        S3Storage("documents")


def test_s3_repr_shows_no_secret() -> None:
    storage = S3Storage("documents", access_key_id="id", secret_access_key="very-secret")
    assert "very-secret" not in repr(storage)


# --- settings ---------------------------------------------------------------------------


def test_local_storage_defaults_to_the_data_directory(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    storage = storage_from_settings(settings)
    assert isinstance(storage, LocalDirectoryStorage)
    assert storage.root == settings.data_dir / "documents"
    assert settings.upload_max_bytes == 20 * MIB


def test_documents_dir_can_be_set(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, documents_dir=tmp_path / "elsewhere")
    storage = storage_from_settings(settings)
    assert isinstance(storage, LocalDirectoryStorage)
    assert storage.root == (tmp_path / "elsewhere").resolve()


async def test_s3_settings_build_a_working_storage(
    tmp_path: Path, s3_endpoint: str, s3_client: S3Client, bucket: str
) -> None:
    settings = make_settings(
        tmp_path,
        documents_storage="s3",
        s3_bucket=bucket,
        s3_endpoint_url=s3_endpoint,
        s3_region=REGION,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        s3_prefix="/clinic-a/",
    )
    storage = storage_from_settings(settings)
    stored = await storage.save(b"referral", max_bytes=1024)

    listing = s3_client.list_objects_v2(Bucket=bucket)
    assert [item["Key"] for item in listing.get("Contents", [])] == [f"clinic-a/{stored.key}"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"documents_storage": "s3"}, "CLINICDESK_S3_BUCKET"),
        ({"s3_access_key_id": "id"}, "both"),
        ({"upload_max_bytes": 30 * MIB}, "max_request_body_bytes"),
        ({"upload_max_bytes": 100}, "upload_max_bytes"),
    ],
)
def test_inconsistent_document_settings_are_refused(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(tmp_path, **overrides)


def test_a_larger_body_limit_allows_larger_uploads(tmp_path: Path) -> None:
    settings: Settings = make_settings(
        tmp_path, upload_max_bytes=30 * MIB, max_request_body_bytes=32 * MIB
    )
    assert settings.upload_max_bytes == 30 * MIB
