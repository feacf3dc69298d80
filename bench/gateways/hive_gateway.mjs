#!/usr/bin/env node
// Hive Gateway's runtime (@graphql-hive/gateway-runtime, the engine of the `hive-gateway` CLI) on Node's HTTP
// server over a static supergraph, with its defaults: no JIT, no inbound request deduplication (the public
// benchmark turns both on; identical concurrent requests collapsed into one would flatter any gateway here).
// Its default upstream deduplication stays on (@graphql-tools/executor-http's `deduplicateInflightRequests`:
// identical query fetches in flight share one answer) unless `--no-upstream-dedup`. The client's `Authorization`
// goes to every subgraph (its `propagateHeaders`), as in the unique-credentials workload of run.py, where each
// request carries its own: identical fetches of two requests then differ in a header and are never shared.
//
// `--rust-qp`: Hive Router's Rust query planner and its executor (@graphql-hive/router-runtime's
// `unifiedGraphHandler`, what `hive-gateway supergraph --hive-router-runtime` does) instead of the default
// JavaScript stitching runtime.
//
// usage: NODE_ENV=production node hive_gateway.mjs SUPERGRAPH_FILE --host 127.0.0.1 --port PORT
//        [--rust-qp] [--no-upstream-dedup]

import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createGatewayRuntime } = require("@graphql-hive/gateway-runtime");

function option(args, name, fallback) {
  const at = args.indexOf(name);
  return at === -1 ? fallback : args[at + 1];
}

async function main() {
  const args = process.argv.slice(2);
  if (!args[0] || args[0].startsWith("--")) throw new Error("usage: hive_gateway.mjs SUPERGRAPH_FILE --port PORT");
  const supergraph = readFileSync(args[0], "utf8"); // the SDL itself (a string that is no path or URL)
  const host = option(args, "--host", "127.0.0.1");
  const port = Number(option(args, "--port", "4100"));
  const config = {
    supergraph,
    logging: "warn",
    propagateHeaders: {
      // A null value (no header) is not set.
      fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get("authorization") }),
    },
  };
  if (args.includes("--rust-qp")) {
    config.unifiedGraphHandler = require("@graphql-hive/router-runtime").unifiedGraphHandler;
  }
  if (args.includes("--no-upstream-dedup")) {
    config.transportEntries = { "*.http": { options: { deduplicateInflightRequests: false } } };
  }
  const gateway = createGatewayRuntime(config);
  const server = createServer(gateway);
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  process.stdout.write(`${JSON.stringify({ ready: `http://${host}:${port}/graphql` })}\n`);
  process.on("SIGTERM", async () => {
    server.close();
    await gateway.dispose();
    process.exit(0);
  });
}

main().catch((error) => {
  process.stderr.write(`hive_gateway.mjs: ${error.stack ?? error}\n`);
  process.exit(2);
});
