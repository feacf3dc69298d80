#!/usr/bin/env node
// The benchmark's stand-in subgraphs (accounts, inventory, products, reviews): one Node process serving the
// fixed data of data.json through @apollo/subgraph, built to be cheap so the gateways and not the subgraphs
// are measured.
//
// usage:  node subgraphs.mjs accounts=PORT inventory=PORT products=PORT reviews=PORT [--host 127.0.0.1]
// stdout: one JSON line {"ready": {"accounts": PORT, ...}} once every subgraph listens.
// GET /stats on any port: {"accounts": N, ...}, the requests each subgraph has answered since the start.
// GET /stats/authorization: {"with": N, "without": N, "distinct": N}, the requests (all subgraphs) that carried an
// `Authorization` header or none, and how many distinct values came (the unique-credentials workload's proof that
// a gateway forwarded each client's own).
//
// The data never changes, so an answer depends on nothing but the request body: each distinct body is
// executed once by graphql-js and its bytes replayed afterwards (BENCH_SUBGRAPH_CACHE=0 executes every time).

import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// Through require, both @apollo/subgraph and our parse/execute use graphql's one CommonJS copy (an ESM import of
// graphql would be a second copy, and graphql refuses schemas made by another copy).
const require = createRequire(import.meta.url);
const { buildSubgraphSchema } = require("@apollo/subgraph");
const { parse, validate, execute } = require("graphql");

const data = JSON.parse(readFileSync(join(here, "data.json"), "utf8"));
const CACHE_LIMIT = 10_000;
const cacheAnswers = process.env.BENCH_SUBGRAPH_CACHE !== "0";

const usersById = new Map(data.users.map((user) => [user.id, user]));
const productsByUpc = new Map(data.products.map((product) => [product.upc, product]));
const stockByUpc = new Map(data.inventory.map((item) => [item.upc, item.inStock]));
const reviewsById = new Map(data.reviews.map((review) => [review.id, review]));
const groupBy = (items, key) => {
  const groups = new Map();
  for (const item of items) {
    if (!groups.has(item[key])) groups.set(item[key], []);
    groups.get(item[key]).push(item);
  }
  return groups;
};
const reviewsByAuthor = groupBy(data.reviews, "author");
const reviewsByProduct = groupBy(data.reviews, "product");

const reviewFields = {
  product: (review) => ({ upc: review.product }),
  // @provides(fields: "username"): the reviews subgraph hands out the author's username itself.
  author: (review) => ({ id: review.author, username: usersById.get(review.author)?.username ?? null }),
};

const resolvers = {
  accounts: {
    Query: {
      me: () => usersById.get("1"),
      user: (_, { id }) => usersById.get(id) ?? null,
      users: () => data.users,
    },
    User: { __resolveReference: ({ id }) => usersById.get(id) ?? null },
  },
  inventory: {
    Product: {
      __resolveReference: (product) =>
        stockByUpc.has(product.upc) ? { ...product, inStock: stockByUpc.get(product.upc) } : null,
      // @requires(fields: "price weight"): price and weight arrive in the representation from products.
      shippingEstimate: ({ price, weight }) => {
        if (price == null || weight == null) return null;
        return price > 1000 ? 0 : Math.round(weight / 2);
      },
    },
  },
  products: {
    Query: { topProducts: (_, { first }) => data.products.slice(0, first) },
    Product: { __resolveReference: ({ upc }) => productsByUpc.get(upc) ?? null },
  },
  reviews: {
    Review: {
      __resolveReference: ({ id }) => reviewsById.get(id) ?? null,
      ...reviewFields,
    },
    User: {
      __resolveReference: ({ id }) => ({ id }),
      reviews: ({ id }) => reviewsByAuthor.get(id) ?? [],
    },
    Product: {
      __resolveReference: ({ upc }) => ({ upc }),
      reviews: ({ upc }) => reviewsByProduct.get(upc) ?? [],
    },
  },
};

function subgraphSchema(name) {
  const typeDefs = parse(readFileSync(join(here, "schemas", `${name}.graphql`), "utf8"));
  return buildSubgraphSchema({ typeDefs, resolvers: resolvers[name] });
}

const served = {};
const authorization = { with: 0, without: 0, distinct: 0 };
const AUTHORIZATION_LIMIT = 2_000_000; // distinct values remembered; past it the set restarts (counts go on)
let authorizations = new Set();

function countAuthorization(value) {
  if (value === undefined) {
    authorization.without += 1;
    return;
  }
  authorization.with += 1;
  if (authorizations.has(value)) return;
  if (authorizations.size >= AUTHORIZATION_LIMIT) authorizations = new Set();
  authorizations.add(value);
  authorization.distinct += 1;
}

function startSubgraph(name, host, port) {
  const schema = subgraphSchema(name);
  const documents = new Map(); // query text -> parsed and validated document (or its errors)
  const answers = new Map(); // request body -> response bytes
  served[name] = 0;

  async function answer(body) {
    const request = JSON.parse(body);
    let document = documents.get(request.query);
    if (document === undefined) {
      try {
        const parsed = parse(request.query);
        const errors = validate(schema, parsed);
        document = errors.length ? { errors } : parsed;
      } catch (error) {
        document = { errors: [error] };
      }
      documents.set(request.query, document);
    }
    if (document.errors) return { status: 400, bytes: Buffer.from(JSON.stringify({ errors: document.errors })) };
    const result = await execute({
      schema,
      document,
      variableValues: request.variables,
      operationName: request.operationName,
      contextValue: {},
    });
    const bytes = Buffer.from(JSON.stringify(result));
    if (cacheAnswers && !result.errors) {
      if (answers.size >= CACHE_LIMIT) answers.clear();
      answers.set(body, bytes);
    }
    return { status: 200, bytes };
  }

  const server = http.createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/stats" || req.url === "/stats/authorization")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(req.url === "/stats" ? served : authorization));
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { "content-type": "text/plain" });
      res.end("POST a GraphQL request\n");
      return;
    }
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", async () => {
      served[name] += 1;
      countAuthorization(req.headers.authorization);
      const body = Buffer.concat(chunks).toString("utf8");
      let reply = answers.get(body);
      let status = 200;
      if (reply === undefined) {
        try {
          ({ status, bytes: reply } = await answer(body));
        } catch (error) {
          status = 400;
          reply = Buffer.from(JSON.stringify({ errors: [{ message: String(error?.message ?? error) }] }));
        }
      }
      res.writeHead(status, { "content-type": "application/json", "content-length": reply.length });
      res.end(reply);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}

async function main() {
  const args = process.argv.slice(2);
  let host = "127.0.0.1";
  const ports = {};
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === "--host") host = args[++i];
    else {
      const [name, port] = args[i].split("=");
      if (!(name in resolvers) || !/^\d+$/.test(port ?? "")) {
        throw new Error(`expected NAME=PORT with NAME in ${Object.keys(resolvers).join(", ")}, got ${args[i]}`);
      }
      ports[name] = Number(port);
    }
  }
  if (Object.keys(ports).length === 0) throw new Error("no subgraph to serve: pass accounts=PORT ...");
  const ready = {};
  for (const [name, port] of Object.entries(ports)) ready[name] = await startSubgraph(name, host, port);
  process.stdout.write(`${JSON.stringify({ ready })}\n`);
}

process.on("SIGTERM", () => process.exit(0));
main().catch((error) => {
  process.stderr.write(`subgraphs.mjs: ${error.stack ?? error}\n`);
  process.exit(2);
});
