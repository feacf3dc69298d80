"""The router's supergraph hot reload under a ConfigMap volume: kubelet writes a new version into a fresh
timestamped directory, swaps the `..data` symlink to it and deletes the old one; the file the router reads
(`supergraph.graphql -> ..data/supergraph.graphql`) keeps its path. The watcher must see each swap (here done
as kubelet's AtomicWriter does it) and build the new supergraph with the real gateway builder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry

from router.config import RouterConfig
from router.ops.reload import Serving, SupergraphWatcher
from router.server import build_gateway

REPO = Path(__file__).resolve().parents[2]


def publish(volume: Path, text: str, version: int) -> None:
    """What kubelet does on a ConfigMap update: new dir, `..data_tmp` symlink renamed over `..data`."""
    timestamped = volume / f"..2026_01_01_00_00_0{version}.{version:09d}"
    timestamped.mkdir()
    (timestamped / "supergraph.graphql").write_text(text)
    previous = os.readlink(volume / "..data") if (volume / "..data").is_symlink() else None
    os.symlink(timestamped.name, volume / "..data_tmp")
    os.rename(volume / "..data_tmp", volume / "..data")  # atomic: readers see the old or the new version
    if not (volume / "supergraph.graphql").is_symlink():
        os.symlink("..data/supergraph.graphql", volume / "supergraph.graphql")
    if previous is not None:
        shutil.rmtree(volume / previous)


async def test_a_configmap_update_reaches_the_router(tmp_path: Path) -> None:
    sdl = (REPO / "schema" / "supergraph.graphql").read_text()
    volume = tmp_path / "supergraph"
    volume.mkdir()
    publish(volume, sdl, 1)
    path = volume / "supergraph.graphql"  # what the Deployment passes to --supergraph
    config = RouterConfig(graphiql=False)
    first = build_gateway(path.read_text(), config)
    serving = Serving(first)
    watcher = SupergraphWatcher(
        serving, path, lambda text: build_gateway(text, config), registry=CollectorRegistry()
    )
    try:
        assert await watcher.check() is False  # nothing changed yet

        # A new version (a field's description edited, as a recomposition would) through the symlink swap.
        changed = sdl.replace('"""', '"""Updated. ', 1) if '"""' in sdl else sdl + "\n# recomposed\n"
        assert changed != sdl
        publish(volume, changed, 2)
        assert await watcher.check() is True
        second = serving.gateway
        assert second is not first

        # The same content published again (kubelet resyncs): no reload.
        publish(volume, changed, 3)
        assert await watcher.check() is False
        assert serving.gateway is second

        # A version the router cannot serve is refused; the previous one keeps serving.
        publish(volume, "this is not a supergraph", 4)
        assert await watcher.check() is False
        assert serving.gateway is second
        assert watcher.reloads.labels("success")._value.get() == 1
        assert watcher.reloads.labels("failure")._value.get() == 1

        # And a good version after it still goes in.
        publish(volume, sdl, 5)
        assert await watcher.check() is True
        assert serving.gateway is not second
    finally:
        await watcher.close()
        await serving.gateway.close()
