// GraphQL Code Generator: the TypeScript types of every operation in src/ (written with `graphql(...)`), from
// the API schema, into src/gql/ (committed). Each operation is validated against the schema first: an
// operation the schema no longer answers fails the generation, and `tsc --noEmit` fails where a changed type
// no longer fits the code.
//
// The schema: STOREFRONT_SCHEMA (a file or a router URL to introspect); in the MyShop repository `make
// storefront-types` passes the router's API schema printed from schema/supergraph.graphql. Elsewhere, point
// it at a running router: `STOREFRONT_SCHEMA=http://localhost:4000/graphql npm run codegen`.
import type { CodegenConfig } from "@graphql-codegen/cli";

const schema = process.env.STOREFRONT_SCHEMA;
if (!schema) throw new Error("set STOREFRONT_SCHEMA to the API schema (a .graphql file or the router's URL)");

const config: CodegenConfig = {
  schema,
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**"],
  ignoreNoDocuments: false,
  errorsOnly: false,
  generates: {
    [process.env.STOREFRONT_TYPES_OUT ?? "src/gql/"]: {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        // DateTime travels as ISO 8601 text; Money is integer minor units (Int) plus a currency.
        scalars: { DateTime: "string", Upload: "File", JSON: "unknown" },
      },
    },
  },
};

export default config;
