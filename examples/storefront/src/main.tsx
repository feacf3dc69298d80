import { ApolloProvider } from "@apollo/client/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createStorefront } from "./apollo";
import { App } from "./App";
import { loadConfig } from "./config";
import { ConfigContext, StorefrontContext } from "./context";
import { adoptMailedPath } from "./route";
import "./styles.css";

adoptMailedPath();
const root = createRoot(document.getElementById("root")!);
loadConfig().then(
  (config) => {
    const storefront = createStorefront(config);
    root.render(
      <StrictMode>
        <ConfigContext.Provider value={config}>
          <StorefrontContext.Provider value={storefront}>
            <ApolloProvider client={storefront.client}>
              <App />
            </ApolloProvider>
          </StorefrontContext.Provider>
        </ConfigContext.Provider>
      </StrictMode>,
    );
  },
  (error: unknown) => {
    root.render(<p role="alert">The shop could not start: {String(error)}</p>);
  },
);
