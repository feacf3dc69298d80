"""GraphiQL for admins at `GET /graphql`: the page, and its assets read from the pinned npm packages.

Nothing comes from a CDN: `npm ci` installs `graphiql`, `react` and `react-dom` (exact versions in
package.json) and the router serves their UMD builds. A built distribution carries its own copy (setup.py
copies them from node_modules into `assets/` beside this file, so `pip install` of the wheel on a machine
without Node serves GraphiQL); a dev checkout, which has no such copy, reads node_modules. Each file is read
when asked for (an admin's browser caches it by its ETag), gzipped once on first use and kept. Held in memory
from the start they were 3.9 MiB of every router's idle RSS (bench/stack_memory.py), for a page few processes
ever serve.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# URL path under which the assets are served, and where each comes from inside node_modules (setup.py reads
# this mapping to copy them into PACKAGED_ASSETS under the served names: keep it a literal).
ASSET_PREFIX = "/graphiql/"
PACKAGED_ASSETS = Path(__file__).resolve().with_name("assets")
ASSET_SOURCES: dict[str, tuple[str, str]] = {
    "react.js": ("react/umd/react.production.min.js", "text/javascript; charset=utf-8"),
    "react-dom.js": ("react-dom/umd/react-dom.production.min.js", "text/javascript; charset=utf-8"),
    "graphiql.js": ("graphiql/graphiql.min.js", "text/javascript; charset=utf-8"),
    "graphiql.css": ("graphiql/graphiql.min.css", "text/css; charset=utf-8"),
}

PAGE_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>MyShop GraphiQL</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{prefix}graphiql.css?v={version}">
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="{prefix}react.js?v={version}"></script>
  <script src="{prefix}react-dom.js?v={version}"></script>
  <script src="{prefix}graphiql.js?v={version}"></script>
  <script>
    // The router's own endpoint, on whatever host and port the page was loaded from.
    const fetcher = GraphiQL.createFetcher({{ url: new URL("/graphql", window.location.href).toString() }});
    const root = ReactDOM.createRoot(document.getElementById("graphiql"));
    root.render(React.createElement(GraphiQL, {{
      fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery: "# MyShop: one GraphQL API over every subgraph.\\n{{\\n  __typename\\n}}\\n",
    }}));
  </script>
</body>
</html>
"""


@dataclass
class Asset:
    path: Path
    content_type: str
    etag: str
    _gzipped: bytes | None = field(default=None, repr=False)

    @property
    def body(self) -> bytes:
        return self.path.read_bytes()

    def gzipped(self) -> bytes:
        # Compressed on first use, not at startup: the router is up before anyone opens GraphiQL.
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped


@dataclass
class GraphiQL:
    page: bytes
    assets: dict[str, Asset]

    @classmethod
    def load(cls, node_modules: Path) -> GraphiQL:
        """The page and assets; raises FileNotFoundError naming the missing file (run `npm ci`)."""
        assets: dict[str, Asset] = {}
        digest = hashlib.sha256()
        files = asset_files(node_modules)
        for name, (_relative, content_type) in ASSET_SOURCES.items():
            path = files[name]
            etag = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
            digest.update(etag.encode())
            assets[name] = Asset(path, content_type, f'"{etag}"')
        page = PAGE_TEMPLATE.format(prefix=ASSET_PREFIX, version=digest.hexdigest()[:12])
        return cls(page.encode(), assets)

    @classmethod
    def try_load(cls, node_modules: Path) -> GraphiQL | None:
        try:
            return cls.load(node_modules)
        except OSError as exc:
            logger.warning("GraphiQL is off: %s (run `npm ci`)", exc)
            return None


def asset_files(node_modules: Path) -> dict[str, Path]:
    """Where each served asset is read from: the package's own copy when it is whole (an installed wheel),
    else `node_modules` (a dev checkout or an editable install, where the build copies nothing)."""
    packaged = {name: PACKAGED_ASSETS / name for name in ASSET_SOURCES}
    if all(path.is_file() for path in packaged.values()):
        return packaged
    return {name: node_modules / relative for name, (relative, _type) in ASSET_SOURCES.items()}
