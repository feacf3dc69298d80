// Search with facets: full-text `search`, then narrowed by category, option values, stock and price range
// (`filter`); every facet's counts answer for the current search. The state lives in the URL (#/search?…),
// so a result page can be shared and the back button works.
import { useQuery } from "@apollo/client/react";
import { useState } from "react";
import { useConfig } from "../context";
import { mediaUrl } from "../config";
import { describe, problemsOf } from "../errors";
import { formatMoney } from "../format";
import { graphql } from "../gql";
import type { ProductSearchFilter, ProductSort } from "../gql/graphql";
import { href } from "../route";

const SEARCH = graphql(`
  query SearchProducts($search: String, $filter: ProductSearchFilter, $sort: ProductSort, $first: Int!, $after: String) {
    products(search: $search, filter: $filter, sort: $sort, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        name
        category
        inStock
        price { amount currency }
        priceRange { min { amount currency } max { amount currency } }
        media { id alt thumbnail(size: SMALL) { url width height } }
      }
      facets {
        categories { value count }
        options { name values { value count } }
        inStock
        priceRanges { min { amount currency } max { amount currency } count }
      }
    }
  }
`);

const PAGE_SIZE = 12;
const SORTS: [ProductSort, string][] = [
  ["RELEVANCE", "Relevance"],
  ["NEWEST", "Newest"],
  ["PRICE_ASC", "Price, low to high"],
  ["PRICE_DESC", "Price, high to low"],
];

/** The search's state as the URL carries it: repeated `category` and `option` (`Size:M`) parameters. */
function filterOf(params: URLSearchParams): ProductSearchFilter | null {
  const categories = params.getAll("category");
  const options = new Map<string, string[]>();
  for (const pair of params.getAll("option")) {
    const [name, value] = pair.split(":", 2);
    if (name && value) options.set(name, [...(options.get(name) ?? []), value]);
  }
  const [min, max, currency] = (params.get("price") ?? "").split("-");
  const filter: ProductSearchFilter = {
    categories: categories.length ? categories : null,
    inStock: params.get("inStock") === "1" ? true : null,
    options: options.size ? [...options].map(([name, values]) => ({ name, values })) : null,
    price: min && max && currency ? { min: Number(min), max: Number(max), currency } : null,
  };
  return Object.values(filter).some((v) => v !== null) ? filter : null;
}

/** Goes to the search with `change` applied to its URL parameters (a new search starts at its first page). */
function update(params: URLSearchParams, change: (next: URLSearchParams) => void): void {
  const next = new URLSearchParams(params);
  change(next);
  window.location.hash = `#/search${next.size ? `?${next}` : ""}`;
}

function toggle(key: string, value: string) {
  return (next: URLSearchParams) => {
    const values = next.getAll(key);
    next.delete(key);
    for (const v of values.includes(value) ? values.filter((x) => x !== value) : [...values, value]) next.append(key, v);
  };
}

export function SearchPage({ params }: { params: URLSearchParams }) {
  const config = useConfig();
  const search = params.get("q") || null;
  const sort = (params.get("sort") as ProductSort | null) ?? (search ? "RELEVANCE" : "NEWEST");
  const filter = filterOf(params);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const { data, loading, error } = useQuery(SEARCH, {
    variables: { search, filter, sort, first: PAGE_SIZE, after },
  });
  const products = data?.products;
  const count = products?.totalCount ?? 0;
  const checked = (key: string, value: string) => params.getAll(key).includes(value);
  return (
    <div className="search-layout">
      <h1 className="visually-hidden">Products</h1>
      <aside aria-label="Filters" className="facets">
        {products && (
          <>
            <fieldset>
              <legend>Category</legend>
              {products.facets.categories.map((c) => (
                <label key={c.value}>
                  <input type="checkbox" checked={checked("category", c.value)} onChange={() => update(params, toggle("category", c.value))} />
                  {c.value} <span className="count">({c.count})</span>
                </label>
              ))}
            </fieldset>
            {products.facets.options.map((option) => (
              <fieldset key={option.name}>
                <legend>{option.name}</legend>
                {option.values.map((v) => (
                  <label key={v.value}>
                    <input
                      type="checkbox"
                      checked={checked("option", `${option.name}:${v.value}`)}
                      onChange={() => update(params, toggle("option", `${option.name}:${v.value}`))}
                    />
                    {v.value} <span className="count">({v.count})</span>
                  </label>
                ))}
              </fieldset>
            ))}
            <fieldset>
              <legend>Price</legend>
              {products.facets.priceRanges.map((range) => {
                const key = `${range.min.amount}-${range.max.amount}-${range.min.currency}`;
                return (
                  <label key={key}>
                    <input type="checkbox" checked={params.get("price") === key} onChange={() => update(params, (next) => (next.get("price") === key ? next.delete("price") : next.set("price", key)))} />
                    {formatMoney(range.min)} – {formatMoney(range.max)} <span className="count">({range.count})</span>
                  </label>
                );
              })}
            </fieldset>
            <fieldset>
              <legend>Availability</legend>
              <label>
                <input type="checkbox" checked={params.get("inStock") === "1"} onChange={() => update(params, toggle("inStock", "1"))} />
                In stock only <span className="count">({products.facets.inStock})</span>
              </label>
            </fieldset>
          </>
        )}
      </aside>
      <section aria-labelledby="results-heading" className="results">
        <div className="results-bar">
          <h2 id="results-heading" aria-live="polite">
            {loading ? "Searching…" : `${count} ${count === 1 ? "product" : "products"}${search ? ` for “${search}”` : ""}`}
          </h2>
          <label>
            Sort by{" "}
            <select value={sort} onChange={(e) => update(params, (next) => next.set("sort", e.target.value))}>
              {SORTS.map(([value, label]) => (
                <option key={value} value={value}>{label}</option>
              ))}
            </select>
          </label>
        </div>
        {error && <p role="alert">{problemsOf(error).map(describe).join("; ")}</p>}
        <ul className="product-grid">
          {products?.nodes.map((p) => {
            const image = p.media[0];
            return (
              <li key={p.id} className="product-card">
                <a href={href(`/product/${p.id}`)}>
                  {image ? (
                    <img src={mediaUrl(config, image.thumbnail.url)} alt={image.alt} width={image.thumbnail.width} height={image.thumbnail.height} loading="lazy" />
                  ) : (
                    <div className="no-image" aria-hidden="true" />
                  )}
                  <span className="name">{p.name}</span>
                </a>
                <span className="price">
                  {p.priceRange && p.priceRange.min.amount !== p.priceRange.max.amount
                    ? `from ${formatMoney(p.priceRange.min)}`
                    : formatMoney(p.price)}
                </span>
                {!p.inStock && <span className="stock-out">Out of stock</span>}
              </li>
            );
          })}
        </ul>
        <nav aria-label="Pages" className="pager">
          <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>Previous page</button>
          <button type="button" disabled={!products?.pageInfo.hasNextPage} onClick={() => setCursors([...cursors, products?.pageInfo.endCursor ?? null])}>
            Next page
          </button>
        </nav>
      </section>
    </div>
  );
}
