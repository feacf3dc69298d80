#!/usr/bin/env node
// Hive Gateway's runtime (@graphql-hive/gateway-runtime, the engine of the `hive-gateway` CLI) on Node's HTTP
// server over a static supergraph, with its defaults: no JIT, no inbound request deduplication (the public
// benchmark turns both on; identical concurrent requests collapsed into one would flatter any gateway here).
//
// usage: NODE_ENV=production node hive_gateway.mjs SUPERGRAPH_FILE --host 127.0.0.1 --port PORT

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
  const gateway = createGatewayRuntime({ supergraph, logging: "warn" });
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
