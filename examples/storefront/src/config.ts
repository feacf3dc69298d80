// Where the router answers: read at start from config.json beside index.html, so one build serves any
// environment (edit config.json where the site is deployed; nothing is built in).
export interface StorefrontConfig {
  /** The router's GraphQL endpoint (HTTP), e.g. https://api.shop.example.com/graphql. */
  graphqlUrl: string;
  /** Its WebSocket endpoint (graphql-transport-ws); null: graphqlUrl with ws:// or wss://. */
  websocketUrl: string | null;
}

export async function loadConfig(): Promise<StorefrontConfig> {
  const response = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const raw = (await response.json()) as Partial<StorefrontConfig>;
  if (typeof raw.graphqlUrl !== "string" || !raw.graphqlUrl) {
    throw new Error("config.json must name graphqlUrl, the router's /graphql URL");
  }
  const graphqlUrl = new URL(raw.graphqlUrl, document.baseURI).toString();
  const websocketUrl = raw.websocketUrl || graphqlUrl.replace(/^http/, "ws");
  return { graphqlUrl, websocketUrl };
}

/** A media path the API answers (`/media/<id>/small`) as a URL on the router that serves it. */
export function mediaUrl(config: StorefrontConfig, path: string): string {
  return new URL(path, config.graphqlUrl).toString();
}
