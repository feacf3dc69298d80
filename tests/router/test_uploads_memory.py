"""Issue 16's acceptance for uploads: a 50 MB file through `myshop router` (its own process, so its memory is
its own) reaches the stand-in subgraph intact while the router's resident memory grows by less than 20 MB:
the file streams through, it is never held whole."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from edge_headers import PREFLIGHT
from test_router_workers import _wait_for_health
from test_server_command import free_port, router_process
from upload_standin import MULTIPART, SUPERGRAPH, UploadStandIn, multipart

from shared.testing import ServerThread

MiB = 1024 * 1024
UPLOAD = "mutation Up($file: Upload!) { upload(file: $file) { sha256 size } }"


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    standin = ServerThread(UploadStandIn()).start()
    folder = tmp_path_factory.mktemp("uploads")
    (folder / "supergraph.graphql").write_text(SUPERGRAPH)
    url = f"{standin.url}/graphql"
    config = {
        "subgraph_urls": {"files": url, "media": url},
        "uploads": {"enabled": True, "max_file_size": 64 * MiB, "max_request_size": 64 * MiB},
        "hot_reload": False,
        "graphiql": False,
    }
    (folder / "router.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = router_process(
        "--supergraph", str(folder / "supergraph.graphql"), "--config", str(folder / "router.yaml"),
        "--host", "127.0.0.1", "--port", str(port),
        env={"MYSHOP_LOG_LEVEL": "WARNING"},
    )  # fmt: skip
    try:
        _wait_for_health(process, port)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=10)
        standin.stop()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the peak since the last reset) of a process, in KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}


def upload(port: int, chunks: Iterator[bytes]) -> httpx.Response:
    body = multipart(
        {"query": UPLOAD, "variables": {"file": None}},
        {"0": ["variables.file"]},
        [("0", "big.bin", "application/octet-stream", chunks)],
    )
    return httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        content=body,  # an iterator: sent as it is made, chunked
        headers={"content-type": MULTIPART, **PREFLIGHT},
        timeout=30,
    )


def test_a_50_mb_upload_reaches_the_subgraph_intact_while_the_router_grows_less_than_20_mb(
    router: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = router
    warm = os.urandom(MiB)  # the first upload loads and allocates what every later one reuses
    assert upload(port, iter([warm])).json()["data"]["upload"]["sha256"] == hashlib.sha256(warm).hexdigest()
    # Reset the peak to the resident memory now (proc(5): clear_refs "5"), so VmHWM is this upload's peak.
    Path(f"/proc/{process.pid}/clear_refs").write_text("5")
    before = memory_kib(process.pid)
    digest = hashlib.sha256()

    def chunks() -> Iterator[bytes]:  # 50 distinct MiB, one at a time (a random MiB, rotated)
        for i in range(50):
            chunk = warm[i * 997 :] + warm[: i * 997]
            digest.update(chunk)
            yield chunk

    response = upload(port, chunks())

    after = memory_kib(process.pid)
    assert response.json() == {"data": {"upload": {"sha256": digest.hexdigest(), "size": 50 * MiB}}}
    growth = (after["VmHWM"] - before["VmRSS"]) / 1024
    print(f"router RSS {before['VmRSS'] / 1024:.1f} MiB before, peak {after['VmHWM'] / 1024:.1f} MiB during")
    assert growth < 20, f"the router's resident memory grew by {growth:.1f} MiB"
