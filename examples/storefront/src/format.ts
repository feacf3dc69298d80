// Money is integer minor units plus an ISO currency code (never a float on the wire); shown in the
// browser's locale.
export interface MoneyValue {
  amount: number;
  currency: string;
}

const DIGITS: Record<string, number> = { JPY: 0, KRW: 0, CLP: 0, ISK: 0, KWD: 3, BHD: 3, JOD: 3, TND: 3 };

export function formatMoney(money: MoneyValue | null | undefined): string {
  if (!money) return "—";
  const digits = DIGITS[money.currency] ?? 2;
  return new Intl.NumberFormat(undefined, {
    style: "currency",
    currency: money.currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(money.amount / 10 ** digits);
}

/** Minor units from what a customer types in major units ("12.50" → 1250 for EUR). */
export function toMinorUnits(text: string, currency: string): number | null {
  const value = Number(text.replace(",", "."));
  if (!text.trim() || !Number.isFinite(value) || value < 0) return null;
  return Math.round(value * 10 ** (DIGITS[currency] ?? 2));
}

export function formatDate(iso: string): string {
  return new Date(iso).toLocaleString();
}
