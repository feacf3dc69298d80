// Apollo Client's HttpLink against the router: a subscription over multipart HTTP (subscriptionSpec=1.0, what
// HttpLink speaks for subscriptions) receives order status updates until it has COUNT of them.
// usage: node subscription_multipart_client.mjs URL TOKEN COUNT   (prints one JSON line)
import { ApolloClient, InMemoryCache, gql } from "@apollo/client";
import { HttpLink } from "@apollo/client/link/http";

const [uri, token, count] = process.argv.slice(2);
let accept = null;
const recording = (input, init) => {
  accept = new Headers(init?.headers).get("accept");
  return fetch(input, init);
};
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: new HttpLink({ uri, headers: { authorization: `Bearer ${token}` }, fetch: recording }),
});
const UPDATES = gql`
  subscription Updates {
    orderUpdates { status order { id user { email } } }
  }
`;
const events = [];
const errors = [];
await new Promise((resolve) => {
  const subscription = client.subscribe({ query: UPDATES, fetchPolicy: "no-cache" }).subscribe({
    next(result) {
      if (result.error) errors.push(String(result.error));
      events.push(result.data ?? null);
      if (events.length >= Number(count)) {
        subscription.unsubscribe();
        resolve();
      }
    },
    error(error) {
      errors.push(String(error));
      resolve();
    },
    complete: resolve,
  });
});
console.log(JSON.stringify({ accept, events, errors }));
