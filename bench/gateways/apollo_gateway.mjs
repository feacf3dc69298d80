#!/usr/bin/env node
// @apollo/gateway behind @apollo/server's standalone HTTP server, over a static supergraph: the reference the
// benchmark compares our router with (one process, as it runs pinned to one core). The client's `Authorization`
// goes to every subgraph (a RemoteGraphQLDataSource's willSendRequest, Apollo's documented way), as in the
// unique-credentials workload of run.py.
//
// usage: NODE_ENV=production node apollo_gateway.mjs SUPERGRAPH_FILE --host 127.0.0.1 --port PORT

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// One CommonJS graphql copy for the gateway and the server (see subgraphs.mjs).
const require = createRequire(import.meta.url);
const { ApolloServer } = require("@apollo/server");
const { startStandaloneServer } = require("@apollo/server/standalone");
const { ApolloGateway, RemoteGraphQLDataSource } = require("@apollo/gateway");

class ForwardingDataSource extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (context?.authorization) request.http.headers.set("authorization", context.authorization);
  }
}

function option(args, name, fallback) {
  const at = args.indexOf(name);
  return at === -1 ? fallback : args[at + 1];
}

async function main() {
  const args = process.argv.slice(2);
  if (!args[0] || args[0].startsWith("--")) throw new Error("usage: apollo_gateway.mjs SUPERGRAPH_FILE --port PORT");
  const supergraphSdl = readFileSync(args[0], "utf8");
  const host = option(args, "--host", "127.0.0.1");
  const port = Number(option(args, "--port", "4100"));
  const gateway = new ApolloGateway({ supergraphSdl, buildService: ({ url }) => new ForwardingDataSource({ url }) });
  const server = new ApolloServer({ gateway });
  const { url } = await startStandaloneServer(server, {
    listen: { host, port },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  process.stdout.write(`${JSON.stringify({ ready: url })}\n`);
  process.on("SIGTERM", async () => {
    await server.stop();
    process.exit(0);
  });
}

main().catch((error) => {
  process.stderr.write(`apollo_gateway.mjs: ${error.stack ?? error}\n`);
  process.exit(2);
});
