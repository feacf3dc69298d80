// Apollo Client 4 asking the router for a query with @defer (multipart/mixed, deferSpec=20220824, through the
// Defer20220824Handler): each result it emits is recorded with the milliseconds since the query started.
// usage: node defer_client.mjs URL   (prints one JSON line: {results: [{ms, dataState, data}]})
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { Defer20220824Handler } from "@apollo/client/incremental";

const [uri] = process.argv.slice(2);
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: new HttpLink({ uri }),
  incrementalHandler: new Defer20220824Handler(),
});
const query = gql`
  query Deferred {
    products {
      id
      name
      ... @defer(label: "ratings") {
        rating
      }
    }
  }
`;
// A first run, left at its primary part, warms what a first request pays once (the connection, the router's
// plan of this operation): the run measured after it is what every later client sees.
await run(() => true);
const started = performance.now();
const results = [];
await run((result) => {
  results.push({
    ms: Math.round(performance.now() - started),
    dataState: result.dataState,
    data: result.data ?? null,
  });
  return result.dataState === "complete";
});
console.log(JSON.stringify({ results }));
process.exit(0);

// Watches the query until `done(result)` says so (each result after the loading state is passed to it).
function run(done) {
  return new Promise((resolve, reject) => {
    const observable = client.watchQuery({ query, fetchPolicy: "no-cache" });
    const timer = setTimeout(() => reject(new Error("no last result within 10 s")), 10000);
    const subscription = observable.subscribe({
      next(result) {
        if (result.loading && !result.data) return; // the loading state before any part
        if (done(result)) {
          clearTimeout(timer);
          subscription.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
  });
}
