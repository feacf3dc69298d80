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

// The pages the account's mails link to as paths (`<base>/verify-email?token=…`): a server that answers every
// path with index.html (a dev server, an SPA fallback) lands here; plain static hosting uses the small
// redirect pages in public/ instead.
const MAILED_PAGES = new Set(["verify-email", "reset-password", "confirm-email-change", "cart"]);

export function adoptMailedPath(): void {
  const match = /\/([^/]+)\/?$/.exec(window.location.pathname);
  if (window.location.hash || !match || !MAILED_PAGES.has(match[1])) return;
  const base = window.location.pathname.slice(0, match.index + 1);
  window.history.replaceState(null, "", `${base}#/${match[1]}${window.location.search}`);
}
