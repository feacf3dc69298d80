// Revenue and orders over time (analytics' salesSeries): a chart each, and the same figures as a table.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useEffect, useMemo, useRef, useState } from "react";
import { formatMoney, major, Money } from "../api";
import { Busy, daysAgo, iso, PageProps, Problem, tomorrow, useLoad, WindowInputs } from "./common";

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

const SERIES = `query Series($from: DateTime!, $to: DateTime!, $interval: SalesInterval!) {
  salesSeries(from: $from, to: $to, interval: $interval) {
    start end orders confirmedOrders revenue { amount currency } grossRevenue { amount currency }
  }
}`;
const INTERVALS = ["HOUR", "DAY", "WEEK", "MONTH"] as const;

type Point = { start: string; end: string; orders: number; confirmedOrders: number; revenue: Money[]; grossRevenue: Money[] };

function label(start: string, interval: string): string {
  return interval === "HOUR" ? start.slice(0, 16).replace("T", " ") : start.slice(0, 10);
}

function SeriesChart(props: { id: string; title: string; kind: "line" | "bar"; labels: string[]; values: number[] }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const chart = new Chart(canvas.current!, {
      type: props.kind,
      data: {
        labels: props.labels,
        datasets: [{ label: props.title, data: props.values, borderColor: "#2563eb", backgroundColor: "#93c5fd", tension: 0 }],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: props.kind === "bar" ? 0 : undefined } } },
      },
    });
    return () => chart.destroy();
  }, [props.kind, props.title, props.labels, props.values]);
  return (
    <figure className="chart" aria-labelledby={`${props.id}-caption`}>
      <figcaption id={`${props.id}-caption`}>{props.title}</figcaption>
      <div className="canvas">
        <canvas ref={canvas} id={props.id} data-points={props.values.length} role="img" aria-label={`${props.title}: ${props.values.length} points; the table below has the figures`} />
      </div>
    </figure>
  );
}

export function Sales({ api }: PageProps) {
  const [from, setFrom] = useState(daysAgo(30));
  const [to, setTo] = useState(tomorrow());
  const [interval, setBucket] = useState<string>("DAY");
  const [currency, setCurrency] = useState<string | null>(null);
  const { data, error, loading, reload } = useLoad(
    () => api.request<{ salesSeries: Point[] }>(SERIES, { from: iso(from), to: iso(to), interval }),
    [api, from, to, interval],
  );
  const points = useMemo(() => data?.salesSeries ?? [], [data]);
  const currencies = [...new Set(points.flatMap((p) => p.revenue.map((m) => m.currency)))];
  const shown = currency && currencies.includes(currency) ? currency : (currencies[0] ?? "USD");
  const revenueOf = (p: Point) => p.revenue.find((m) => m.currency === shown) ?? { amount: 0, currency: shown };
  // The charts are drawn again only when their figures change (not when the table opens).
  const labels = useMemo(() => points.map((p) => label(p.start, interval)), [points, interval]);
  const revenue = useMemo(
    () => points.map((p) => major(p.revenue.find((m) => m.currency === shown) ?? { amount: 0, currency: shown })),
    [points, shown],
  );
  const orders = useMemo(() => points.map((p) => p.orders), [points]);
  return (
    <section aria-label="Sales over time">
      <WindowInputs from={from} to={to} setFrom={setFrom} setTo={setTo}>
        <label>
          Interval{" "}
          <select value={interval} onChange={(e) => setBucket(e.target.value)}>
            {INTERVALS.map((value) => <option key={value} value={value}>{value.toLowerCase()}</option>)}
          </select>
        </label>
        {currencies.length > 1 && (
          <label>
            Currency{" "}
            <select value={shown} onChange={(e) => setCurrency(e.target.value)}>
              {currencies.map((code) => <option key={code}>{code}</option>)}
            </select>
          </label>
        )}
      </WindowInputs>
      <Problem error={error} retry={reload} />
      <Busy loading={loading} />
      {data && (
        <>
          <div className="charts">
            <SeriesChart id="revenue-chart" title={`Revenue (${shown}, net of refunds)`} kind="line" labels={labels} values={revenue} />
            <SeriesChart id="orders-chart" title="Orders placed" kind="bar" labels={labels} values={orders} />
          </div>
          <details>
            <summary>The figures as a table ({points.length} {interval.toLowerCase()}s)</summary>
            <table>
              <caption>Sales per {interval.toLowerCase()}</caption>
              <thead>
                <tr><th scope="col">Start (UTC)</th><th scope="col">Orders placed</th><th scope="col">Confirmed</th><th scope="col">Revenue ({shown})</th></tr>
              </thead>
              <tbody>
                {points.map((p) => (
                  <tr key={p.start}>
                    <th scope="row">{label(p.start, interval)}</th>
                    <td className="number">{p.orders}</td>
                    <td className="number">{p.confirmedOrders}</td>
                    <td className="number">{formatMoney(revenueOf(p))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </section>
  );
}
