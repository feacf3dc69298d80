// The signed-in customer's tokens and a guest's cart token, kept in localStorage so a reload keeps both,
// with a tiny store React components subscribe to (useSession).
import { useSyncExternalStore } from "react";

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** ISO 8601: when the access token stops working. */
  expiresAt: string;
  email: string;
}

const SESSION_KEY = "myshop.session";
const CART_KEY = "myshop.cartToken";
const listeners = new Set<() => void>();

function read<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

let session: Session | null = read<Session>(SESSION_KEY);
let cartToken: string | null = read<string>(CART_KEY);

function write(key: string, value: unknown): void {
  if (value === null) localStorage.removeItem(key);
  else localStorage.setItem(key, JSON.stringify(value));
  listeners.forEach((listener) => listener());
}

export function getSession(): Session | null {
  return session;
}

export function setSession(next: Session | null): void {
  session = next;
  write(SESSION_KEY, next);
}

export function getCartToken(): string | null {
  return cartToken;
}

export function setCartToken(next: string | null): void {
  cartToken = next;
  write(CART_KEY, next);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useSession(): Session | null {
  return useSyncExternalStore(subscribe, getSession);
}

export function useCartToken(): string | null {
  return useSyncExternalStore(subscribe, getCartToken);
}
