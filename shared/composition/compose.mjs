#!/usr/bin/env node
// Composes Federation 2 subgraph SDLs into a supergraph SDL with Apollo's own @apollo/composition.
//
// stdin:  {"subgraphs": [{"name": "products", "url": "http://localhost:4002/graphql", "sdl": "..."}]}
// stdout: the supergraph SDL (exit 0)
// stderr: one JSON object per line: {"kind": "error" | "hint" | "fatal", "code": ..., "message": ...}
// exit:   0 composed, 1 composition failed (kind "error" lines), 2 bad input or missing node_modules.
//
// Packages are resolved from the repository root (two levels up from this file, or $MYSHOP_REPO_ROOT),
// never from the caller's working directory, so the script runs the same from any cwd.

import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const EXIT_COMPOSITION_FAILED = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

function report(kind, code, message, extra = {}) {
  process.stderr.write(`${JSON.stringify({ kind, code: code ?? null, message, ...extra })}\n`);
}

function loadPackages() {
  const repoRoot = process.env.MYSHOP_REPO_ROOT
    ? resolve(process.env.MYSHOP_REPO_ROOT)
    : fileURLToPath(new URL("../../", import.meta.url));
  // One require for both packages: composition does `instanceof` checks on graphql's classes, so the
  // AST we parse must come from the very graphql copy that @apollo/composition loads.
  const requireFromRepo = createRequire(join(repoRoot, "package.json"));
  try {
    const { composeServices } = requireFromRepo("@apollo/composition");
    const { parse } = requireFromRepo("graphql");
    return { composeServices, parse };
  } catch (error) {
    throw new UsageError(
      `cannot load @apollo/composition and graphql from ${join(repoRoot, "node_modules")} ` +
        `(${error.code ?? error.message}); run \`npm ci\` in ${repoRoot}`,
    );
  }
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function parseRequest(text) {
  let request;
  try {
    request = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`stdin is not JSON: ${error.message}`);
  }
  const subgraphs = request?.subgraphs;
  if (!Array.isArray(subgraphs) || subgraphs.length === 0) {
    throw new UsageError('stdin must be {"subgraphs": [{"name", "url", "sdl"}, ...]} with at least one subgraph');
  }
  for (const [index, subgraph] of subgraphs.entries()) {
    for (const key of ["name", "url", "sdl"]) {
      if (typeof subgraph?.[key] !== "string") throw new UsageError(`subgraphs[${index}].${key} must be a string`);
    }
  }
  return subgraphs;
}

async function main() {
  const { composeServices, parse } = loadPackages();
  const subgraphs = parseRequest(await readStdin());

  // A syntax error is reported like a composition error, naming the subgraph, so one bad SDL file
  // reads the same as any other reason the supergraph cannot be built.
  const services = [];
  let syntaxErrors = 0;
  for (const { name, url, sdl } of subgraphs) {
    try {
      services.push({ name, url, typeDefs: parse(sdl) });
    } catch (error) {
      syntaxErrors += 1;
      report("error", "INVALID_GRAPHQL", `[${name}] ${error.message}`);
    }
  }
  if (syntaxErrors > 0) return EXIT_COMPOSITION_FAILED;

  const result = composeServices(services);
  if (result.errors) {
    for (const error of result.errors) report("error", error.extensions?.code, error.message);
    return EXIT_COMPOSITION_FAILED;
  }
  for (const hint of result.hints ?? []) report("hint", hint.definition?.code, hint.message);
  process.stdout.write(result.supergraphSdl);
  return 0;
}

// exitCode rather than process.exit(): on platforms where pipes are asynchronous, exit() can cut
// off output that is still being written.
try {
  process.exitCode = await main();
} catch (error) {
  report("fatal", null, error instanceof UsageError ? error.message : (error?.stack ?? String(error)));
  process.exitCode = EXIT_USAGE;
}
