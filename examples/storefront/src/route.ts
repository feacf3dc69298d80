// Hash routes (`#/product/<id>`), so the built site is plain static files any server can host.
import { useSyncExternalStore } from "react";

export interface Route {
  /** The path's parts: `#/orders/42` → ["orders", "42"]; the home page → []. */
  parts: string[];
  params: URLSearchParams;
}

function current(): string {
  return window.location.hash.replace(/^#/, "") || "/";
}

function subscribe(listener: () => void): () => void {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, current);
  const [path, query = ""] = hash.split("?", 2);
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

export function href(path: string, params?: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) if (value) query.set(key, value);
  const text = query.toString();
  return `#${path}${text ? `?${text}` : ""}`;
}

export function navigate(path: string, params?: Record<string, string | undefined>): void {
  window.location.hash = href(path, params);
}
