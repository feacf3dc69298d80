// A product: its images (the chosen variant's first), its options as radio groups choosing one variant, that
// variant's price and stock, and "Add to cart".
import { useMutation, useQuery } from "@apollo/client/react";
import { useState } from "react";
import { useCart } from "../cart";
import { mediaUrl } from "../config";
import { useConfig } from "../context";
import { describe, problemsOf } from "../errors";
import { formatMoney } from "../format";
import { graphql } from "../gql";
import type { ProductPageQuery } from "../gql/graphql";
import { href } from "../route";

const PRODUCT = graphql(`
  query ProductPage($id: ID!) {
    product(id: $id) {
      id
      name
      description
      category
      active
      price { amount currency }
      options { name values }
      variants {
        id
        sku
        inStock
        stock { available }
        price { amount currency }
        selectedOptions { name value }
      }
      media {
        id
        alt
        variant { id }
        large: thumbnail(size: LARGE) { url width height }
        small: thumbnail(size: SMALL) { url width height }
      }
    }
  }
`);

const ADD_LINE = graphql(`
  mutation AddToCart($variantId: ID!, $quantity: Int!, $cartToken: String) {
    cartAddLine(variantId: $variantId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }
  }
`);

type Product = NonNullable<ProductPageQuery["product"]>;

function variantFor(product: Product, chosen: Record<string, string>) {
  return product.variants.find((v) => v.selectedOptions.every((o) => chosen[o.name] === o.value)) ?? null;
}

export function ProductPage({ id }: { id: string | undefined }) {
  const { data, loading, error } = useQuery(PRODUCT, { variables: { id: id ?? "" }, skip: !id });
  if (loading) return <p aria-live="polite">Loading…</p>;
  if (error) return <p role="alert">{problemsOf(error).map(describe).join("; ")}</p>;
  if (!data?.product || !data.product.active) return <p role="alert">This product is not sold here.</p>;
  return <ProductView key={data.product.id} product={data.product} />;
}

function ProductView({ product }: { product: Product }) {
  const config = useConfig();
  const first = product.variants.find((v) => v.inStock) ?? product.variants[0];
  const [chosen, setChosen] = useState<Record<string, string>>(
    Object.fromEntries(first?.selectedOptions.map((o) => [o.name, o.value]) ?? []),
  );
  const [quantity, setQuantity] = useState(1);
  const [imageId, setImageId] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const variant = variantFor(product, chosen);
  const { cartToken, ensureCartToken } = useCart();
  const [addLine, adding] = useMutation(ADD_LINE);
  const images = product.media.filter((m) => !m.variant || m.variant.id === variant?.id);
  const shown = images.find((m) => m.id === imageId) ?? images.find((m) => m.variant) ?? images[0];

  const add = async () => {
    if (!variant) return;
    setMessage(null);
    try {
      const token = cartToken ?? (await ensureCartToken());
      await addLine({ variables: { variantId: variant.id, quantity, cartToken: token } });
      setMessage(`Added ${quantity} × ${product.name} to your cart.`);
    } catch (problem) {
      setMessage(problemsOf(problem).map(describe).join("; "));
    }
  };

  return (
    <article className="product-page">
      <div className="gallery">
        {shown ? (
          <img className="main-image" src={mediaUrl(config, shown.large.url)} alt={shown.alt || product.name} width={shown.large.width} height={shown.large.height} />
        ) : (
          <div className="no-image large" role="img" aria-label="No image" />
        )}
        {images.length > 1 && (
          <ul className="thumbnails" aria-label="Images">
            {images.map((m, index) => (
              <li key={m.id}>
                <button type="button" aria-pressed={m.id === shown?.id} aria-label={`Image ${index + 1}${m.alt ? `: ${m.alt}` : ""}`} onClick={() => setImageId(m.id)}>
                  <img src={mediaUrl(config, m.small.url)} alt="" width={m.small.width} height={m.small.height} />
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
      <div className="details">
        <p className="breadcrumb">
          <a href={href("/search", { category: product.category })}>{product.category}</a>
        </p>
        <h1>{product.name}</h1>
        <p className="price" data-testid="price">{formatMoney(variant?.price ?? product.price)}</p>
        {product.options.map((option) => (
          <fieldset key={option.name} className="option">
            <legend>{option.name}</legend>
            {option.values.map((value) => (
              <label key={value}>
                <input
                  type="radio"
                  name={`option-${option.name}`}
                  value={value}
                  checked={chosen[option.name] === value}
                  onChange={() => setChosen({ ...chosen, [option.name]: value })}
                />
                {value}
              </label>
            ))}
          </fieldset>
        ))}
        <p className="stock" aria-live="polite">
          {!variant ? "This combination is not sold." : variant.inStock ? `In stock (${variant.stock.available} available)` : "Out of stock"}
        </p>
        <div className="add">
          <label>
            Quantity
            <input type="number" min={1} max={1000} value={quantity} onChange={(e) => setQuantity(Math.max(1, Number(e.target.value) || 1))} />
          </label>
          <button type="button" onClick={add} disabled={!variant?.inStock || adding.loading}>
            Add to cart
          </button>
        </div>
        <p role="status">
          {message} {message?.startsWith("Added") && <a href={href("/cart")}>View cart</a>}
        </p>
        <p className="description">{product.description}</p>
        {variant && <p className="sku">SKU {variant.sku}</p>}
      </div>
    </article>
  );
}
