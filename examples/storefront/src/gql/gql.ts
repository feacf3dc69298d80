/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation RefreshSession($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      accessToken\n      refreshToken\n      expiresAt\n    }\n  }\n": typeof types.RefreshSessionDocument,
    "\n  fragment CartFields on Cart {\n    id\n    currency\n    subtotal { amount currency }\n    discountTotal { amount currency }\n    shippingPrice { amount currency }\n    taxTotal { amount currency }\n    total { amount currency }\n    pricesIncludeTax\n    voucherCode\n    shippingMethodId\n    shippingAddress { name line1 line2 city postalCode country }\n    lines {\n      id\n      quantity\n      available\n      priceChanged\n      unitPrice { amount currency }\n      total { amount currency }\n      product { id name }\n      variant { id sku selectedOptions { name value } }\n    }\n    notices { code message lineId reason }\n    discounts { code name amount { amount currency } }\n    availableShippingMethods {\n      method { id name carrier minDeliveryDays maxDeliveryDays }\n      price { amount currency }\n    }\n  }\n": typeof types.CartFieldsFragmentDoc,
    "\n  query Cart($cartToken: String) {\n    cart(cartToken: $cartToken) { ...CartFields }\n  }\n": typeof types.CartDocument,
    "\n  mutation CreateCart {\n    createCart { token cart { ...CartFields } }\n  }\n": typeof types.CreateCartDocument,
    "\n  mutation Login($email: String!, $password: String!) {\n    login(email: $email, password: $password) { accessToken refreshToken expiresAt user { id email } }\n  }\n": typeof types.LoginDocument,
    "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) { email verificationRequired message }\n  }\n": typeof types.RegisterDocument,
    "\n  mutation MergeGuestCart($cartToken: String!) {\n    mergeGuestCart(cartToken: $cartToken) { ...CartFields }\n  }\n": typeof types.MergeGuestCartDocument,
    "\n  mutation Logout($refreshToken: String) {\n    logout(refreshToken: $refreshToken)\n  }\n": typeof types.LogoutDocument,
    "\n  query Me {\n    me {\n      id\n      name\n      email\n      emailVerified\n      orders(first: 10) { nodes { id status createdAt total { amount currency } } }\n    }\n  }\n": typeof types.MeDocument,
    "\n  mutation ResendVerification {\n    resendVerification\n  }\n": typeof types.ResendVerificationDocument,
    "\n  mutation ChangeEmail($newEmail: String!, $password: String!) {\n    changeEmail(newEmail: $newEmail, password: $password)\n  }\n": typeof types.ChangeEmailDocument,
    "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token) { id email emailVerified }\n  }\n": typeof types.VerifyEmailDocument,
    "\n  mutation ConfirmEmailChange($token: String!) {\n    confirmEmailChange(token: $token) { id email emailVerified }\n  }\n": typeof types.ConfirmEmailChangeDocument,
    "\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email)\n  }\n": typeof types.RequestPasswordResetDocument,
    "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword)\n  }\n": typeof types.ResetPasswordDocument,
    "\n  query ShippingCountries {\n    shippingCountries\n  }\n": typeof types.ShippingCountriesDocument,
    "\n  mutation UpdateCartLine($lineId: ID!, $quantity: Int!, $cartToken: String) {\n    cartUpdateLine(lineId: $lineId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }\n  }\n": typeof types.UpdateCartLineDocument,
    "\n  mutation RemoveCartLine($lineId: ID!, $cartToken: String) {\n    cartRemoveLine(lineId: $lineId, cartToken: $cartToken) { ...CartFields }\n  }\n": typeof types.RemoveCartLineDocument,
    "\n  mutation ShipTo($addressId: ID, $address: AddressInput) {\n    cartSetShippingAddress(addressId: $addressId, address: $address) { ...CartFields }\n  }\n": typeof types.ShipToDocument,
    "\n  mutation ChooseShippingMethod($methodId: ID!) {\n    cartSetShippingMethod(methodId: $methodId) { ...CartFields }\n  }\n": typeof types.ChooseShippingMethodDocument,
    "\n  mutation ApplyVoucher($code: String!) {\n    cartApplyVoucher(code: $code) { ...CartFields }\n  }\n": typeof types.ApplyVoucherDocument,
    "\n  mutation RemoveVoucher {\n    cartRemoveVoucher { ...CartFields }\n  }\n": typeof types.RemoveVoucherDocument,
    "\n  mutation CheckoutComplete($cartId: ID!, $paymentMethod: String!, $idempotencyKey: String!) {\n    checkoutComplete(cartId: $cartId, paymentMethod: $paymentMethod, idempotencyKey: $idempotencyKey) {\n      id\n      status\n      total { amount currency }\n    }\n  }\n": typeof types.CheckoutCompleteDocument,
    "\n  query OrderPage($id: ID!) {\n    order(id: $id) {\n      id\n      createdAt\n      subtotal { amount currency }\n      discountTotal { amount currency }\n      shippingPrice { amount currency }\n      taxTotal { amount currency }\n      total { amount currency }\n      shippingMethod { name }\n      shippingAddress { name line1 city postalCode country }\n      items { line productName variantLabel quantity unitPrice { amount currency } total { amount currency } }\n    }\n  }\n": typeof types.OrderPageDocument,
    "\n  subscription OrderStatus($orderId: ID!) {\n    orderStatusChanged(orderId: $orderId) {\n      id\n      status\n      failureReason\n      updatedAt\n    }\n  }\n": typeof types.OrderStatusDocument,
    "\n  query ProductPage($id: ID!) {\n    product(id: $id) {\n      id\n      name\n      description\n      category\n      active\n      price { amount currency }\n      options { name values }\n      variants {\n        id\n        sku\n        inStock\n        stock { available }\n        price { amount currency }\n        selectedOptions { name value }\n      }\n      media {\n        id\n        alt\n        variant { id }\n        large: thumbnail(size: LARGE) { url width height }\n        small: thumbnail(size: SMALL) { url width height }\n      }\n    }\n  }\n": typeof types.ProductPageDocument,
    "\n  mutation AddToCart($variantId: ID!, $quantity: Int!, $cartToken: String) {\n    cartAddLine(variantId: $variantId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }\n  }\n": typeof types.AddToCartDocument,
    "\n  query SearchProducts($search: String, $filter: ProductSearchFilter, $sort: ProductSort, $first: Int!, $after: String) {\n    products(search: $search, filter: $filter, sort: $sort, first: $first, after: $after) {\n      totalCount\n      pageInfo { hasNextPage endCursor }\n      nodes {\n        id\n        name\n        category\n        inStock\n        price { amount currency }\n        priceRange { min { amount currency } max { amount currency } }\n        media { id alt thumbnail(size: SMALL) { url width height } }\n      }\n      facets {\n        categories { value count }\n        options { name values { value count } }\n        inStock\n        priceRanges { min { amount currency } max { amount currency } count }\n      }\n    }\n  }\n": typeof types.SearchProductsDocument,
    "\n  query AddressBook {\n    me {\n      id\n      addresses { id name line1 line2 city postalCode country isDefaultShipping isDefaultBilling }\n    }\n  }\n": typeof types.AddressBookDocument,
    "\n  mutation AddAddress($input: AddressInput!, $isDefaultShipping: Boolean!) {\n    addAddress(input: $input, isDefaultShipping: $isDefaultShipping) { id }\n  }\n": typeof types.AddAddressDocument,
    "\n  mutation RemoveAddress($id: ID!) {\n    removeAddress(id: $id)\n  }\n": typeof types.RemoveAddressDocument,
};
const documents: Documents = {
    "\n  mutation RefreshSession($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      accessToken\n      refreshToken\n      expiresAt\n    }\n  }\n": types.RefreshSessionDocument,
    "\n  fragment CartFields on Cart {\n    id\n    currency\n    subtotal { amount currency }\n    discountTotal { amount currency }\n    shippingPrice { amount currency }\n    taxTotal { amount currency }\n    total { amount currency }\n    pricesIncludeTax\n    voucherCode\n    shippingMethodId\n    shippingAddress { name line1 line2 city postalCode country }\n    lines {\n      id\n      quantity\n      available\n      priceChanged\n      unitPrice { amount currency }\n      total { amount currency }\n      product { id name }\n      variant { id sku selectedOptions { name value } }\n    }\n    notices { code message lineId reason }\n    discounts { code name amount { amount currency } }\n    availableShippingMethods {\n      method { id name carrier minDeliveryDays maxDeliveryDays }\n      price { amount currency }\n    }\n  }\n": types.CartFieldsFragmentDoc,
    "\n  query Cart($cartToken: String) {\n    cart(cartToken: $cartToken) { ...CartFields }\n  }\n": types.CartDocument,
    "\n  mutation CreateCart {\n    createCart { token cart { ...CartFields } }\n  }\n": types.CreateCartDocument,
    "\n  mutation Login($email: String!, $password: String!) {\n    login(email: $email, password: $password) { accessToken refreshToken expiresAt user { id email } }\n  }\n": types.LoginDocument,
    "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) { email verificationRequired message }\n  }\n": types.RegisterDocument,
    "\n  mutation MergeGuestCart($cartToken: String!) {\n    mergeGuestCart(cartToken: $cartToken) { ...CartFields }\n  }\n": types.MergeGuestCartDocument,
    "\n  mutation Logout($refreshToken: String) {\n    logout(refreshToken: $refreshToken)\n  }\n": types.LogoutDocument,
    "\n  query Me {\n    me {\n      id\n      name\n      email\n      emailVerified\n      orders(first: 10) { nodes { id status createdAt total { amount currency } } }\n    }\n  }\n": types.MeDocument,
    "\n  mutation ResendVerification {\n    resendVerification\n  }\n": types.ResendVerificationDocument,
    "\n  mutation ChangeEmail($newEmail: String!, $password: String!) {\n    changeEmail(newEmail: $newEmail, password: $password)\n  }\n": types.ChangeEmailDocument,
    "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token) { id email emailVerified }\n  }\n": types.VerifyEmailDocument,
    "\n  mutation ConfirmEmailChange($token: String!) {\n    confirmEmailChange(token: $token) { id email emailVerified }\n  }\n": types.ConfirmEmailChangeDocument,
    "\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email)\n  }\n": types.RequestPasswordResetDocument,
    "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword)\n  }\n": types.ResetPasswordDocument,
    "\n  query ShippingCountries {\n    shippingCountries\n  }\n": types.ShippingCountriesDocument,
    "\n  mutation UpdateCartLine($lineId: ID!, $quantity: Int!, $cartToken: String) {\n    cartUpdateLine(lineId: $lineId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }\n  }\n": types.UpdateCartLineDocument,
    "\n  mutation RemoveCartLine($lineId: ID!, $cartToken: String) {\n    cartRemoveLine(lineId: $lineId, cartToken: $cartToken) { ...CartFields }\n  }\n": types.RemoveCartLineDocument,
    "\n  mutation ShipTo($addressId: ID, $address: AddressInput) {\n    cartSetShippingAddress(addressId: $addressId, address: $address) { ...CartFields }\n  }\n": types.ShipToDocument,
    "\n  mutation ChooseShippingMethod($methodId: ID!) {\n    cartSetShippingMethod(methodId: $methodId) { ...CartFields }\n  }\n": types.ChooseShippingMethodDocument,
    "\n  mutation ApplyVoucher($code: String!) {\n    cartApplyVoucher(code: $code) { ...CartFields }\n  }\n": types.ApplyVoucherDocument,
    "\n  mutation RemoveVoucher {\n    cartRemoveVoucher { ...CartFields }\n  }\n": types.RemoveVoucherDocument,
    "\n  mutation CheckoutComplete($cartId: ID!, $paymentMethod: String!, $idempotencyKey: String!) {\n    checkoutComplete(cartId: $cartId, paymentMethod: $paymentMethod, idempotencyKey: $idempotencyKey) {\n      id\n      status\n      total { amount currency }\n    }\n  }\n": types.CheckoutCompleteDocument,
    "\n  query OrderPage($id: ID!) {\n    order(id: $id) {\n      id\n      createdAt\n      subtotal { amount currency }\n      discountTotal { amount currency }\n      shippingPrice { amount currency }\n      taxTotal { amount currency }\n      total { amount currency }\n      shippingMethod { name }\n      shippingAddress { name line1 city postalCode country }\n      items { line productName variantLabel quantity unitPrice { amount currency } total { amount currency } }\n    }\n  }\n": types.OrderPageDocument,
    "\n  subscription OrderStatus($orderId: ID!) {\n    orderStatusChanged(orderId: $orderId) {\n      id\n      status\n      failureReason\n      updatedAt\n    }\n  }\n": types.OrderStatusDocument,
    "\n  query ProductPage($id: ID!) {\n    product(id: $id) {\n      id\n      name\n      description\n      category\n      active\n      price { amount currency }\n      options { name values }\n      variants {\n        id\n        sku\n        inStock\n        stock { available }\n        price { amount currency }\n        selectedOptions { name value }\n      }\n      media {\n        id\n        alt\n        variant { id }\n        large: thumbnail(size: LARGE) { url width height }\n        small: thumbnail(size: SMALL) { url width height }\n      }\n    }\n  }\n": types.ProductPageDocument,
    "\n  mutation AddToCart($variantId: ID!, $quantity: Int!, $cartToken: String) {\n    cartAddLine(variantId: $variantId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }\n  }\n": types.AddToCartDocument,
    "\n  query SearchProducts($search: String, $filter: ProductSearchFilter, $sort: ProductSort, $first: Int!, $after: String) {\n    products(search: $search, filter: $filter, sort: $sort, first: $first, after: $after) {\n      totalCount\n      pageInfo { hasNextPage endCursor }\n      nodes {\n        id\n        name\n        category\n        inStock\n        price { amount currency }\n        priceRange { min { amount currency } max { amount currency } }\n        media { id alt thumbnail(size: SMALL) { url width height } }\n      }\n      facets {\n        categories { value count }\n        options { name values { value count } }\n        inStock\n        priceRanges { min { amount currency } max { amount currency } count }\n      }\n    }\n  }\n": types.SearchProductsDocument,
    "\n  query AddressBook {\n    me {\n      id\n      addresses { id name line1 line2 city postalCode country isDefaultShipping isDefaultBilling }\n    }\n  }\n": types.AddressBookDocument,
    "\n  mutation AddAddress($input: AddressInput!, $isDefaultShipping: Boolean!) {\n    addAddress(input: $input, isDefaultShipping: $isDefaultShipping) { id }\n  }\n": types.AddAddressDocument,
    "\n  mutation RemoveAddress($id: ID!) {\n    removeAddress(id: $id)\n  }\n": types.RemoveAddressDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RefreshSession($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      accessToken\n      refreshToken\n      expiresAt\n    }\n  }\n"): (typeof documents)["\n  mutation RefreshSession($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      accessToken\n      refreshToken\n      expiresAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment CartFields on Cart {\n    id\n    currency\n    subtotal { amount currency }\n    discountTotal { amount currency }\n    shippingPrice { amount currency }\n    taxTotal { amount currency }\n    total { amount currency }\n    pricesIncludeTax\n    voucherCode\n    shippingMethodId\n    shippingAddress { name line1 line2 city postalCode country }\n    lines {\n      id\n      quantity\n      available\n      priceChanged\n      unitPrice { amount currency }\n      total { amount currency }\n      product { id name }\n      variant { id sku selectedOptions { name value } }\n    }\n    notices { code message lineId reason }\n    discounts { code name amount { amount currency } }\n    availableShippingMethods {\n      method { id name carrier minDeliveryDays maxDeliveryDays }\n      price { amount currency }\n    }\n  }\n"): (typeof documents)["\n  fragment CartFields on Cart {\n    id\n    currency\n    subtotal { amount currency }\n    discountTotal { amount currency }\n    shippingPrice { amount currency }\n    taxTotal { amount currency }\n    total { amount currency }\n    pricesIncludeTax\n    voucherCode\n    shippingMethodId\n    shippingAddress { name line1 line2 city postalCode country }\n    lines {\n      id\n      quantity\n      available\n      priceChanged\n      unitPrice { amount currency }\n      total { amount currency }\n      product { id name }\n      variant { id sku selectedOptions { name value } }\n    }\n    notices { code message lineId reason }\n    discounts { code name amount { amount currency } }\n    availableShippingMethods {\n      method { id name carrier minDeliveryDays maxDeliveryDays }\n      price { amount currency }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Cart($cartToken: String) {\n    cart(cartToken: $cartToken) { ...CartFields }\n  }\n"): (typeof documents)["\n  query Cart($cartToken: String) {\n    cart(cartToken: $cartToken) { ...CartFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateCart {\n    createCart { token cart { ...CartFields } }\n  }\n"): (typeof documents)["\n  mutation CreateCart {\n    createCart { token cart { ...CartFields } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Login($email: String!, $password: String!) {\n    login(email: $email, password: $password) { accessToken refreshToken expiresAt user { id email } }\n  }\n"): (typeof documents)["\n  mutation Login($email: String!, $password: String!) {\n    login(email: $email, password: $password) { accessToken refreshToken expiresAt user { id email } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) { email verificationRequired message }\n  }\n"): (typeof documents)["\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) { email verificationRequired message }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MergeGuestCart($cartToken: String!) {\n    mergeGuestCart(cartToken: $cartToken) { ...CartFields }\n  }\n"): (typeof documents)["\n  mutation MergeGuestCart($cartToken: String!) {\n    mergeGuestCart(cartToken: $cartToken) { ...CartFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Logout($refreshToken: String) {\n    logout(refreshToken: $refreshToken)\n  }\n"): (typeof documents)["\n  mutation Logout($refreshToken: String) {\n    logout(refreshToken: $refreshToken)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Me {\n    me {\n      id\n      name\n      email\n      emailVerified\n      orders(first: 10) { nodes { id status createdAt total { amount currency } } }\n    }\n  }\n"): (typeof documents)["\n  query Me {\n    me {\n      id\n      name\n      email\n      emailVerified\n      orders(first: 10) { nodes { id status createdAt total { amount currency } } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ResendVerification {\n    resendVerification\n  }\n"): (typeof documents)["\n  mutation ResendVerification {\n    resendVerification\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ChangeEmail($newEmail: String!, $password: String!) {\n    changeEmail(newEmail: $newEmail, password: $password)\n  }\n"): (typeof documents)["\n  mutation ChangeEmail($newEmail: String!, $password: String!) {\n    changeEmail(newEmail: $newEmail, password: $password)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token) { id email emailVerified }\n  }\n"): (typeof documents)["\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token) { id email emailVerified }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ConfirmEmailChange($token: String!) {\n    confirmEmailChange(token: $token) { id email emailVerified }\n  }\n"): (typeof documents)["\n  mutation ConfirmEmailChange($token: String!) {\n    confirmEmailChange(token: $token) { id email emailVerified }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email)\n  }\n"): (typeof documents)["\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword)\n  }\n"): (typeof documents)["\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ShippingCountries {\n    shippingCountries\n  }\n"): (typeof documents)["\n  query ShippingCountries {\n    shippingCountries\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateCartLine($lineId: ID!, $quantity: Int!, $cartToken: String) {\n    cartUpdateLine(lineId: $lineId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }\n  }\n"): (typeof documents)["\n  mutation UpdateCartLine($lineId: ID!, $quantity: Int!, $cartToken: String) {\n    cartUpdateLine(lineId: $lineId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RemoveCartLine($lineId: ID!, $cartToken: String) {\n    cartRemoveLine(lineId: $lineId, cartToken: $cartToken) { ...CartFields }\n  }\n"): (typeof documents)["\n  mutation RemoveCartLine($lineId: ID!, $cartToken: String) {\n    cartRemoveLine(lineId: $lineId, cartToken: $cartToken) { ...CartFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ShipTo($addressId: ID, $address: AddressInput) {\n    cartSetShippingAddress(addressId: $addressId, address: $address) { ...CartFields }\n  }\n"): (typeof documents)["\n  mutation ShipTo($addressId: ID, $address: AddressInput) {\n    cartSetShippingAddress(addressId: $addressId, address: $address) { ...CartFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ChooseShippingMethod($methodId: ID!) {\n    cartSetShippingMethod(methodId: $methodId) { ...CartFields }\n  }\n"): (typeof documents)["\n  mutation ChooseShippingMethod($methodId: ID!) {\n    cartSetShippingMethod(methodId: $methodId) { ...CartFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApplyVoucher($code: String!) {\n    cartApplyVoucher(code: $code) { ...CartFields }\n  }\n"): (typeof documents)["\n  mutation ApplyVoucher($code: String!) {\n    cartApplyVoucher(code: $code) { ...CartFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RemoveVoucher {\n    cartRemoveVoucher { ...CartFields }\n  }\n"): (typeof documents)["\n  mutation RemoveVoucher {\n    cartRemoveVoucher { ...CartFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CheckoutComplete($cartId: ID!, $paymentMethod: String!, $idempotencyKey: String!) {\n    checkoutComplete(cartId: $cartId, paymentMethod: $paymentMethod, idempotencyKey: $idempotencyKey) {\n      id\n      status\n      total { amount currency }\n    }\n  }\n"): (typeof documents)["\n  mutation CheckoutComplete($cartId: ID!, $paymentMethod: String!, $idempotencyKey: String!) {\n    checkoutComplete(cartId: $cartId, paymentMethod: $paymentMethod, idempotencyKey: $idempotencyKey) {\n      id\n      status\n      total { amount currency }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OrderPage($id: ID!) {\n    order(id: $id) {\n      id\n      createdAt\n      subtotal { amount currency }\n      discountTotal { amount currency }\n      shippingPrice { amount currency }\n      taxTotal { amount currency }\n      total { amount currency }\n      shippingMethod { name }\n      shippingAddress { name line1 city postalCode country }\n      items { line productName variantLabel quantity unitPrice { amount currency } total { amount currency } }\n    }\n  }\n"): (typeof documents)["\n  query OrderPage($id: ID!) {\n    order(id: $id) {\n      id\n      createdAt\n      subtotal { amount currency }\n      discountTotal { amount currency }\n      shippingPrice { amount currency }\n      taxTotal { amount currency }\n      total { amount currency }\n      shippingMethod { name }\n      shippingAddress { name line1 city postalCode country }\n      items { line productName variantLabel quantity unitPrice { amount currency } total { amount currency } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription OrderStatus($orderId: ID!) {\n    orderStatusChanged(orderId: $orderId) {\n      id\n      status\n      failureReason\n      updatedAt\n    }\n  }\n"): (typeof documents)["\n  subscription OrderStatus($orderId: ID!) {\n    orderStatusChanged(orderId: $orderId) {\n      id\n      status\n      failureReason\n      updatedAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ProductPage($id: ID!) {\n    product(id: $id) {\n      id\n      name\n      description\n      category\n      active\n      price { amount currency }\n      options { name values }\n      variants {\n        id\n        sku\n        inStock\n        stock { available }\n        price { amount currency }\n        selectedOptions { name value }\n      }\n      media {\n        id\n        alt\n        variant { id }\n        large: thumbnail(size: LARGE) { url width height }\n        small: thumbnail(size: SMALL) { url width height }\n      }\n    }\n  }\n"): (typeof documents)["\n  query ProductPage($id: ID!) {\n    product(id: $id) {\n      id\n      name\n      description\n      category\n      active\n      price { amount currency }\n      options { name values }\n      variants {\n        id\n        sku\n        inStock\n        stock { available }\n        price { amount currency }\n        selectedOptions { name value }\n      }\n      media {\n        id\n        alt\n        variant { id }\n        large: thumbnail(size: LARGE) { url width height }\n        small: thumbnail(size: SMALL) { url width height }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddToCart($variantId: ID!, $quantity: Int!, $cartToken: String) {\n    cartAddLine(variantId: $variantId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }\n  }\n"): (typeof documents)["\n  mutation AddToCart($variantId: ID!, $quantity: Int!, $cartToken: String) {\n    cartAddLine(variantId: $variantId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SearchProducts($search: String, $filter: ProductSearchFilter, $sort: ProductSort, $first: Int!, $after: String) {\n    products(search: $search, filter: $filter, sort: $sort, first: $first, after: $after) {\n      totalCount\n      pageInfo { hasNextPage endCursor }\n      nodes {\n        id\n        name\n        category\n        inStock\n        price { amount currency }\n        priceRange { min { amount currency } max { amount currency } }\n        media { id alt thumbnail(size: SMALL) { url width height } }\n      }\n      facets {\n        categories { value count }\n        options { name values { value count } }\n        inStock\n        priceRanges { min { amount currency } max { amount currency } count }\n      }\n    }\n  }\n"): (typeof documents)["\n  query SearchProducts($search: String, $filter: ProductSearchFilter, $sort: ProductSort, $first: Int!, $after: String) {\n    products(search: $search, filter: $filter, sort: $sort, first: $first, after: $after) {\n      totalCount\n      pageInfo { hasNextPage endCursor }\n      nodes {\n        id\n        name\n        category\n        inStock\n        price { amount currency }\n        priceRange { min { amount currency } max { amount currency } }\n        media { id alt thumbnail(size: SMALL) { url width height } }\n      }\n      facets {\n        categories { value count }\n        options { name values { value count } }\n        inStock\n        priceRanges { min { amount currency } max { amount currency } count }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AddressBook {\n    me {\n      id\n      addresses { id name line1 line2 city postalCode country isDefaultShipping isDefaultBilling }\n    }\n  }\n"): (typeof documents)["\n  query AddressBook {\n    me {\n      id\n      addresses { id name line1 line2 city postalCode country isDefaultShipping isDefaultBilling }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddAddress($input: AddressInput!, $isDefaultShipping: Boolean!) {\n    addAddress(input: $input, isDefaultShipping: $isDefaultShipping) { id }\n  }\n"): (typeof documents)["\n  mutation AddAddress($input: AddressInput!, $isDefaultShipping: Boolean!) {\n    addAddress(input: $input, isDefaultShipping: $isDefaultShipping) { id }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RemoveAddress($id: ID!) {\n    removeAddress(id: $id)\n  }\n"): (typeof documents)["\n  mutation RemoveAddress($id: ID!) {\n    removeAddress(id: $id)\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;