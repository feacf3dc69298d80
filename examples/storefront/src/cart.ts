// The cart every page shares: the signed-in customer's, or a guest's by the token createCart gave.
import { useMutation, useQuery } from "@apollo/client/react";
import { graphql } from "./gql";
import type { CartFieldsFragment } from "./gql/graphql";
import { getCartToken, setCartToken, useCartToken, useSession } from "./session";

export const CART_FIELDS = graphql(`
  fragment CartFields on Cart {
    id
    currency
    subtotal { amount currency }
    discountTotal { amount currency }
    shippingPrice { amount currency }
    taxTotal { amount currency }
    total { amount currency }
    pricesIncludeTax
    voucherCode
    shippingMethodId
    shippingAddress { name line1 line2 city postalCode country }
    lines {
      id
      quantity
      available
      priceChanged
      unitPrice { amount currency }
      total { amount currency }
      product { id name }
      variant { id sku selectedOptions { name value } }
    }
    notices { code message lineId reason }
    discounts { code name amount { amount currency } }
    availableShippingMethods {
      method { id name carrier minDeliveryDays maxDeliveryDays }
      price { amount currency }
    }
  }
`);

export const CART = graphql(`
  query Cart($cartToken: String) {
    cart(cartToken: $cartToken) { ...CartFields }
  }
`);

const CREATE_CART = graphql(`
  mutation CreateCart {
    createCart { token cart { ...CartFields } }
  }
`);

export interface CartState {
  cart: CartFieldsFragment | null;
  loading: boolean;
  error: unknown;
  /** The token to pass to cart mutations: null when signed in (the customer's own cart). */
  cartToken: string | null;
  /** A guest's cart token, creating the cart first when there is none yet. */
  ensureCartToken(): Promise<string | null>;
}

export function useCart(): CartState {
  const session = useSession();
  const guestToken = useCartToken();
  const cartToken = session ? null : guestToken;
  const { data, loading, error } = useQuery(CART, {
    variables: { cartToken },
    skip: !session && !guestToken,
  });
  const [createCart] = useMutation(CREATE_CART);
  return {
    cart: data?.cart ?? null,
    loading,
    error,
    cartToken,
    async ensureCartToken() {
      if (session) return null;
      const existing = getCartToken();
      if (existing) return existing;
      const created = await createCart();
      const token = created.data?.createCart.token ?? null;
      setCartToken(token);
      return token;
    },
  };
}
