// Products running low (inventory's lowStockProducts), each with an adjust-stock form (adjustStock).
import { useState } from "react";
import { GraphQLFailure } from "../api";
import { Busy, PageProps, Problem, useLoad } from "./common";

const LOW = `query Low($threshold: Int, $first: Int) {
  lowStockProducts(threshold: $threshold, first: $first) { id name sku stock { available reserved onHand } }
}`;
const ADJUST = `mutation Adjust($productId: ID!, $delta: Int!, $reason: String!) {
  adjustStock(productId: $productId, delta: $delta, reason: $reason) { id stock { available reserved onHand } }
}`;

type Figures = { available: number; reserved: number; onHand: number };
type Row = { id: string; name: string | null; sku: string | null; stock: Figures };

function Adjust({ row, onAdjust }: { row: Row; onAdjust: (delta: number, reason: string) => Promise<string | null> }) {
  const [delta, setDelta] = useState("");
  const [reason, setReason] = useState("restock");
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const name = row.name ?? row.id;
  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    const problem = await onAdjust(Number(delta), reason);
    setBusy(false);
    setMessage(problem);
    if (!problem) setDelta("");
  }
  return (
    <form className="adjust" onSubmit={submit} aria-label={`Adjust the stock of ${name}`}>
      <label>
        <span className="visually-hidden">Units to add (negative: to remove) for {name}</span>
        <input type="number" step={1} required value={delta} onChange={(e) => setDelta(e.target.value)} placeholder="±units" />
      </label>
      <label>
        <span className="visually-hidden">Reason for {name}</span>
        <input type="text" required maxLength={200} value={reason} onChange={(e) => setReason(e.target.value)} />
      </label>
      <button type="submit" disabled={busy || delta === "" || Number(delta) === 0}>Adjust</button>
      {message && <span role="alert" className="error">{message}</span>}
    </form>
  );
}

export function Stock({ api }: PageProps) {
  const [threshold, setThreshold] = useState(5);
  const { data, setData, error, loading, reload } = useLoad(
    () => api.request<{ lowStockProducts: Row[] }>(LOW, { threshold, first: 100 }),
    [api, threshold],
  );

  async function adjust(row: Row, delta: number, reason: string): Promise<string | null> {
    try {
      const result = await api.request<{ adjustStock: { id: string; stock: Figures } }>(ADJUST, { productId: row.id, delta, reason });
      // The row shows its new figures at once (it stays until the list is reloaded, even above the threshold).
      setData((current) =>
        current && { lowStockProducts: current.lowStockProducts.map((r) => (r.id === row.id ? { ...r, stock: result.adjustStock.stock } : r)) },
      );
      return null;
    } catch (failure) {
      return failure instanceof GraphQLFailure ? `${failure.message} (${failure.codes.join(", ")})` : String(failure);
    }
  }

  return (
    <section aria-label="Low stock">
      <form className="window" onSubmit={(e) => { e.preventDefault(); void reload(); }}>
        <label>
          Available at most <input type="number" min={0} value={threshold} onChange={(e) => setThreshold(Math.max(0, Number(e.target.value)))} />
        </label>
        <button type="submit">Reload</button>
      </form>
      <Problem error={error} retry={reload} />
      <Busy loading={loading} />
      {data && (
        <table id="low-stock">
          <caption>Products with {threshold} or fewer units available, fewest first</caption>
          <thead>
            <tr><th scope="col">Product</th><th scope="col">SKU</th><th scope="col">Available</th><th scope="col">Reserved</th><th scope="col">On hand</th><th scope="col">Adjust stock</th></tr>
          </thead>
          <tbody>
            {data.lowStockProducts.length === 0 && <tr><td colSpan={6}>Nothing is running low.</td></tr>}
            {data.lowStockProducts.map((row) => (
              <tr key={row.id} data-product-id={row.id}>
                <th scope="row">{row.name ?? row.id}</th>
                <td>{row.sku}</td>
                <td className="number available">{row.stock.available}</td>
                <td className="number">{row.stock.reserved}</td>
                <td className="number on-hand">{row.stock.onHand}</td>
                <td><Adjust row={row} onAdjust={(delta, reason) => adjust(row, delta, reason)} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
