"""The cart tests' documents and helpers: a cart read and changed over the orders subgraph, as a customer
(a token of the test issuer, or a real account of users where the address book is needed) or a guest."""

from __future__ import annotations

import uuid
from typing import Any

from orders_shop import Shop

CART_FIELDS = """
  id currency subtotal { amount currency } total { amount currency } weightGrams
  shippingCountry shippingMethodId voucherCode updatedAt
  shippingAddress { name line1 city postalCode region country phone }
  billingAddress { name line1 city postalCode country }
  lines {
    id product { id } quantity unitPrice { amount currency } lineTotal { amount currency }
    available priceChanged previousUnitPrice { amount currency }
  }
  notices { code lineId productId }
"""
CART = f"query Cart($token: String) {{ cart(cartToken: $token) {{ {CART_FIELDS} }} }}"
CREATE = f"mutation {{ createCart {{ token cart {{ {CART_FIELDS} }} }} }}"
ADD = f"""
mutation Add($product: ID!, $quantity: Int!, $token: String) {{
  cartAddLine(productId: $product, quantity: $quantity, cartToken: $token) {{ {CART_FIELDS} }}
}}"""
UPDATE = f"""
mutation Update($line: ID!, $quantity: Int!, $token: String) {{
  cartUpdateLine(lineId: $line, quantity: $quantity, cartToken: $token) {{ {CART_FIELDS} }}
}}"""
REMOVE = f"""
mutation Remove($line: ID!, $token: String) {{
  cartRemoveLine(lineId: $line, cartToken: $token) {{ {CART_FIELDS} }}
}}"""
SHIP_TO = f"""
mutation ShipTo($addressId: ID, $address: AddressInput, $token: String) {{
  cartSetShippingAddress(addressId: $addressId, address: $address, cartToken: $token) {{ {CART_FIELDS} }}
}}"""
BILL_TO = f"""
mutation BillTo($addressId: ID, $address: AddressInput, $token: String) {{
  cartSetBillingAddress(addressId: $addressId, address: $address, cartToken: $token) {{ {CART_FIELDS} }}
}}"""
METHOD = f"""
mutation Method($method: ID!, $token: String) {{
  cartSetShippingMethod(methodId: $method, cartToken: $token) {{ {CART_FIELDS} }}
}}"""
VOUCHER = f"""
mutation Voucher($code: String!, $token: String) {{
  cartApplyVoucher(code: $code, cartToken: $token) {{ {CART_FIELDS} }}
}}"""
NO_VOUCHER = (
    f"mutation NoVoucher($token: String) {{ cartRemoveVoucher(cartToken: $token) {{ {CART_FIELDS} }} }}"
)
MERGE = f"mutation Merge($token: String!) {{ mergeGuestCart(cartToken: $token) {{ {CART_FIELDS} }} }}"
ENTITIES = """
query Carts($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Cart { id shippingCountry subtotal { amount currency } weightGrams }
  }
}"""
UPDATE_PRICE = (
    "mutation P($id: ID!, $price: MoneyInput!) { updateProduct(id: $id, input: {price: $price}) { id } }"
)

REGISTER = "mutation R($input: RegisterInput!) { register(input: $input) { email } }"
LOGIN = """
mutation L($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken user { id } }
}"""
ADD_ADDRESS = "mutation A($input: AddressInput!) { addAddress(input: $input) { id } }"

HOME = {
    "name": "Cart Shopper",
    "line1": "1 Main St",
    "city": "Springfield",
    "region": "IL",
    "postalCode": "62701",
    "country": "US",
    "phone": "+1 217 555 0100",
}
LONDON = {
    "name": "Cart Shopper",
    "line1": "10 Downing Street",
    "city": "London",
    "postalCode": "SW1A 2AA",
    "country": "GB",
}


async def cart_call(shop: Shop, query: str, auth: str | None = None, **variables: Any) -> Any:
    """`query` on orders with the access token `auth` (None: anonymous); `token=` is a guest cart's."""
    return await shop.gql("orders", query, variables, token=auth)


async def account(shop: Shop) -> tuple[str, str, str]:
    """A real account of users (email, password, access token of a fresh login)."""
    email = f"cart-{uuid.uuid4().hex[:10]}@example.com"
    password = "correct horse battery"
    details = {"email": email, "password": password, "name": "Cart Shopper"}
    (await shop.gql("users", REGISTER, {"input": details})).ok()
    return email, password, await login(shop, email, password)


async def login(shop: Shop, email: str, password: str) -> str:
    signed_in = (await shop.gql("users", LOGIN, {"email": email, "password": password})).ok()["login"]
    return str(signed_in["accessToken"])


async def set_price(shop: Shop, product_id: str, amount: int, currency: str = "USD") -> None:
    price = {"amount": amount, "currency": currency}
    (await shop.gql("products", UPDATE_PRICE, {"id": product_id, "price": price}, token=shop.admin)).ok()
