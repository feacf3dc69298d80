import { createContext, useContext } from "react";
import type { Storefront } from "./apollo";
import type { StorefrontConfig } from "./config";

export const ConfigContext = createContext<StorefrontConfig | null>(null);
export const StorefrontContext = createContext<Storefront | null>(null);

export function useConfig(): StorefrontConfig {
  const config = useContext(ConfigContext);
  if (!config) throw new Error("useConfig outside ConfigContext");
  return config;
}

export function useStorefront(): Storefront {
  const storefront = useContext(StorefrontContext);
  if (!storefront) throw new Error("useStorefront outside StorefrontContext");
  return storefront;
}
