// Apollo Client's BatchHttpLink against the router: three queries issued together go as ONE HTTP request
// (a JSON array) and each gets its own answer (shippingZones needs a token: its errors are its own).
// usage: node batch_client.mjs URL   (prints one JSON line)
import { ApolloClient, InMemoryCache, gql } from "@apollo/client";
import { BatchHttpLink } from "@apollo/client/link/batch-http";

const [uri] = process.argv.slice(2);
let posts = 0;
const counting = (input, init) => {
  posts += 1;
  return fetch(input, init);
};
const client = new ApolloClient({
  cache: new InMemoryCache(),
  // Everything issued within 50 ms, up to 10 operations, goes in one request.
  link: new BatchHttpLink({ uri, batchMax: 10, batchInterval: 50, fetch: counting }),
});
const queries = {
  products: gql`query Products { products(first: 2) { nodes { id name } } }`,
  categories: gql`query Categories { categories { name productCount } }`,
  zones: gql`query Zones { shippingZones { id name } }`,
};
const answers = await Promise.all(
  Object.entries(queries).map(async ([name, query]) => {
    // errorPolicy all: an entry's GraphQL errors come back with it instead of rejecting the promise.
    const result = await client.query({ query, fetchPolicy: "no-cache", errorPolicy: "all" });
    const codes = (result.error?.errors ?? []).map((e) => e.extensions?.code);
    return [name, { data: result.data ?? null, codes }];
  }),
);
console.log(JSON.stringify({ posts, answers: Object.fromEntries(answers) }));
