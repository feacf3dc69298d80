// Best sellers of a window (analytics' topProducts), by net units sold.
import { useState } from "react";
import { formatMoney, Money } from "../api";
import { Busy, daysAgo, iso, PageProps, Problem, tomorrow, useLoad, WindowInputs } from "./common";

const TOP = `query Top($from: DateTime!, $to: DateTime!, $limit: Int) {
  topProducts(from: $from, to: $to, limit: $limit) { product { id name sku } unitsSold revenue { amount currency } }
}`;

type Row = { product: { id: string; name: string | null; sku: string | null }; unitsSold: number; revenue: Money[] };

export function BestSellers({ api }: PageProps) {
  const [from, setFrom] = useState(daysAgo(30));
  const [to, setTo] = useState(tomorrow());
  const [limit, setLimit] = useState(10);
  const { data, error, loading, reload } = useLoad(
    () => api.request<{ topProducts: Row[] | null }>(TOP, { from: iso(from), to: iso(to), limit }),
    [api, from, to, limit],
  );
  return (
    <section aria-label="Best sellers">
      <WindowInputs from={from} to={to} setFrom={setFrom} setTo={setTo}>
        <label>
          Show{" "}
          <select value={limit} onChange={(e) => setLimit(Number(e.target.value))}>
            {[10, 25, 50, 100].map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
      </WindowInputs>
      <Problem error={error} retry={reload} />
      <Busy loading={loading} />
      {data && (
        <table>
          <caption>Products by net units sold, most first</caption>
          <thead>
            <tr><th scope="col">#</th><th scope="col">Product</th><th scope="col">SKU</th><th scope="col">Units sold</th><th scope="col">Revenue</th></tr>
          </thead>
          <tbody>
            {(data.topProducts ?? []).length === 0 && <tr><td colSpan={5}>No sales in this window.</td></tr>}
            {(data.topProducts ?? []).map((row, index) => (
              <tr key={row.product.id}>
                <td className="number">{index + 1}</td>
                <th scope="row">{row.product.name ?? row.product.id}</th>
                <td>{row.product.sku}</td>
                <td className="number">{row.unitsSold}</td>
                <td className="number">{row.revenue.map(formatMoney).join(" · ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
