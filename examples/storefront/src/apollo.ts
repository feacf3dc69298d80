// Apollo Client over the router: queries and mutations over HTTP with the customer's access token (refreshed
// shortly before it expires), subscriptions over one WebSocket (graphql-transport-ws) whose connection_init
// carries the token. A sign-in or sign-out closes the socket, so the next one presents the new identity.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { print } from "graphql";
import { createClient } from "graphql-ws";
import type { StorefrontConfig } from "./config";
import { graphql } from "./gql";
import { getSession, setSession } from "./session";

const REFRESH = graphql(`
  mutation RefreshSession($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) {
      accessToken
      refreshToken
      expiresAt
    }
  }
`);

// Refresh this long before the access token expires.
const MARGIN_MS = 30_000;
let refreshing: Promise<string | null> | null = null;

async function refresh(config: StorefrontConfig): Promise<string | null> {
  const session = getSession();
  if (!session) return null;
  const response = await fetch(config.graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: print(REFRESH), variables: { refreshToken: session.refreshToken } }),
  });
  const body = (await response.json()) as { data?: { refreshToken?: { accessToken: string; refreshToken: string; expiresAt: string } } };
  const renewed = body.data?.refreshToken;
  if (!renewed) {
    setSession(null); // the session ended (signed out elsewhere, expired): sign in again
    return null;
  }
  setSession({ ...session, ...renewed });
  return renewed.accessToken;
}

/** The access token to send now (renewed first when it is about to expire), or null for a guest. */
export async function accessToken(config: StorefrontConfig): Promise<string | null> {
  const session = getSession();
  if (!session) return null;
  if (Date.parse(session.expiresAt) - Date.now() > MARGIN_MS) return session.accessToken;
  refreshing ??= refresh(config).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

export interface Storefront {
  client: ApolloClient;
  /** Call after a sign-in or sign-out: the cache and the WebSocket start over with the new identity. */
  identityChanged(): Promise<void>;
}

export function createStorefront(config: StorefrontConfig): Storefront {
  const sockets = createClient({
    url: config.websocketUrl ?? config.graphqlUrl.replace(/^http/, "ws"),
    lazy: true,
    retryAttempts: 5,
    connectionParams: async () => {
      const token = await accessToken(config);
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
  });
  const auth = new SetContextLink(async (previous) => {
    const token = await accessToken(config);
    return { headers: { ...previous.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } };
  });
  const http = new HttpLink({ uri: config.graphqlUrl });
  const link = ApolloLink.split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    new GraphQLWsLink(sockets),
    auth.concat(http),
  );
  const client = new ApolloClient({
    link,
    cache: new InMemoryCache({
      typePolicies: {
        // Money, addresses and option values have no id: they belong to the object holding them.
        Query: { fields: { cart: { merge: false } } },
        Cart: { fields: { lines: { merge: false }, availableShippingMethods: { merge: false } } },
        Product: { fields: { media: { merge: false }, variants: { merge: false } } },
      },
    }),
  });
  return {
    client,
    async identityChanged() {
      sockets.terminate();
      // The active queries run again as the new identity; one the change unmounted meanwhile (the profile
      // after a sign-out) is aborted, and a query's failure shows where the query is used: not an error here.
      await client.resetStore().catch(() => undefined);
    },
  };
}
