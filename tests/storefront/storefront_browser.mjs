// Drives the reference storefront (examples/storefront/dist) in Debian's headless Chromium (playwright-core,
// no downloaded browser), as a customer: search with a facet, open the product, choose a variant, add it to
// a guest's cart, register at checkout (the cart comes along), ship to an address with a shipping method and
// a voucher, pay with `tok_approve`, and watch the order page reach CONFIRMED through the subscription; then
// the order is cancelled from outside the page (the API, as an admin) and the page must show it live. At a
// phone's width: the email confirmed from the mail's link, a password reset, a sign-in with the new password.
// Fails on any failed request, page error or request to a third origin. Screenshots go to the artifacts
// folder. The mailed codes come from the test: the script asks with a JSON line {"ask": ...} on stdout and
// reads the answer on stdin.
// usage: node storefront_browser.mjs SCENARIO_JSON   (prints one JSON line last; exit 1 on failure)
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const scenario = JSON.parse(process.argv[2]);
const { storefrontUrl, routerUrl, artifacts, customer, product, voucher, country, adminToken } = scenario;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const userDataDir = mkdtempSync(join(tmpdir(), "myshop-storefront-"));
const problems = [];
const requests = [];
const steps = [];
const WAIT = { timeout: 20000 };
let context;
const answers = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function ask(what) {
  console.log(JSON.stringify({ ask: what }));
  const { value } = await answers.next();
  return value;
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

async function step(name, action) {
  const started = Date.now();
  await action();
  steps.push({ name, ms: Date.now() - started });
}

async function cancelAsAdmin(orderId) {
  const response = await fetch(`${routerUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ query: "mutation C($id: ID!) { cancelOrder(id: $id) { status } }", variables: { id: orderId } }),
  });
  return response.json();
}

try {
  mkdirSync(artifacts, { recursive: true });
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    locale: "en-US",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("request", (r) => requests.push(r.url()));
  // ERR_ABORTED: the page cancelled a request of its own (a query of a page left, a cache reset at sign-in).
  page.on("requestfailed", (r) => {
    if (r.failure()?.errorText !== "net::ERR_ABORTED") problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()} at ${m.location().url}`);
  });

  await step("search with a facet", async () => {
    await page.goto(`${storefrontUrl}/`, { waitUntil: "load" });
    await page.getByRole("heading", { name: /products?$/ }).waitFor(WAIT);
    // The first Tab reaches the skip link: the page starts with a way past the header for keyboards.
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => document.activeElement?.textContent);
    if (focused !== "Skip to content") problems.push(`first Tab focused ${JSON.stringify(focused)}`);
    await page.getByLabel("Search products").fill(product.search);
    await page.getByLabel("Search products").press("Enter");
    await page.getByRole("link", { name: product.name }).waitFor(WAIT);
    const filters = page.getByRole("complementary", { name: "Filters" });
    await filters.getByRole("group", { name: "Size" }).getByLabel(/^M/).check();
    await page.waitForFunction(() => decodeURIComponent(location.hash).includes("option=Size:M"), null, WAIT);
    await page.getByRole("heading", { name: /^1 product\b/ }).waitFor(WAIT);
    await shot(page, "search");
  });

  await step("product page: variant, image, add to cart", async () => {
    await page.getByRole("link", { name: product.name }).click();
    await page.getByRole("heading", { level: 1, name: product.name }).waitFor(WAIT);
    await page.waitForFunction(() => document.querySelector(".main-image")?.naturalWidth > 0, null, WAIT);
    await page.getByRole("group", { name: "Size" }).getByLabel("M").check();
    await page.getByTestId("price").filter({ hasText: product.mediumPrice }).waitFor(WAIT);
    await page.getByLabel("Quantity").fill("2");
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.getByRole("status").filter({ hasText: "Added 2" }).waitFor(WAIT);
    await page.getByRole("link", { name: "Cart, 2 items" }).waitFor(WAIT);
    await shot(page, "product");
  });

  await step("cart", async () => {
    await page.getByRole("link", { name: "Cart, 2 items" }).click();
    await page.getByRole("rowheader", { name: new RegExp(product.name) }).waitFor(WAIT);
    await page.getByText("Size: M").waitFor(WAIT);
    await shot(page, "cart");
  });

  await step("register at checkout: the guest's cart comes along", async () => {
    await page.getByRole("link", { name: "Sign in to check out" }).click();
    const form = page.locator("form", { has: page.getByRole("button", { name: "Create account" }) });
    await form.getByLabel("Name").fill(customer.name);
    await form.getByLabel("Email").fill(customer.email);
    await form.getByLabel("Password").fill(customer.password);
    await form.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Checkout" }).waitFor(WAIT);
    await page.getByRole("link", { name: "Cart, 2 items" }).waitFor(WAIT);
  });

  await step("checkout: address, shipping method, voucher", async () => {
    await page.getByRole("heading", { name: "Checkout" }).waitFor(WAIT);
    await page.getByLabel("Full name").fill(customer.name);
    await page.getByLabel("Street and number").fill("Hauptstrasse 1");
    await page.getByLabel("City").fill("Wien");
    await page.getByLabel("Postal code").fill("1010");
    // The countries the shop ships to, from `shippingCountries`.
    await page.getByLabel(/^Country/).selectOption(country);
    await page.getByRole("button", { name: "Ship to this address" }).click();
    await page.getByTestId("shipping-address").filter({ hasText: "Hauptstrasse 1" }).waitFor(WAIT);
    await page.getByLabel(new RegExp(product.shippingMethod)).check();
    await page.getByRole("button", { name: /and place order/ }).and(page.locator(":enabled")).waitFor(WAIT);
    await page.getByLabel("Voucher code").fill(voucher.toLowerCase());
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText(`Voucher ${voucher} applied`).waitFor(WAIT);
    await page.getByLabel(/tok_approve/).check();
    await shot(page, "checkout");
  });

  let orderId;
  await step("pay and follow the order live to CONFIRMED", async () => {
    await page.getByRole("button", { name: /and place order/ }).click();
    await page.waitForFunction(() => location.hash.startsWith("#/orders/"), null, WAIT);
    orderId = await page.evaluate(() => location.hash.split("/")[2]);
    await page.locator('[data-status="CONFIRMED"]').waitFor(WAIT);
    await page.getByText("(live)").waitFor(WAIT);
    await shot(page, "order");
  });

  await step("a cancellation from outside shows live", async () => {
    const cancelled = await cancelAsAdmin(orderId);
    if (cancelled.errors) problems.push(`cancelOrder: ${JSON.stringify(cancelled.errors)}`);
    await page.locator('[data-status="CANCELLED"]').waitFor(WAIT);
    await page.getByText("(final)").waitFor(WAIT);
    await shot(page, "order-cancelled");
  });

  await step("phone width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${storefrontUrl}/#/search?q=${encodeURIComponent(product.search)}`);
    await page.getByRole("link", { name: product.name }).waitFor(WAIT);
    await shot(page, "phone-search");
    await page.goto(`${storefrontUrl}/#/orders/${orderId}`);
    await page.locator('[data-status="CANCELLED"]').waitFor(WAIT);
    await page.getByRole("cell", { name: /29\.00/ }).waitFor(WAIT);
    await shot(page, "phone-order");
    for (const [name, path] of [["search", `#/search?q=${product.search}`], ["order", `#/orders/${orderId}`]]) {
      await page.goto(`${storefrontUrl}/${path}`);
      await page.locator("main h1, main h2").first().waitFor(WAIT);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 1) problems.push(`the phone-width ${name} page scrolls sideways by ${overflow}px`);
    }
  });

  await step("confirm the email address from the mail's link", async () => {
    const token = await ask("verification");
    await page.goto(`${storefrontUrl}/verify-email?token=${encodeURIComponent(token)}`);
    await page.getByRole("heading", { name: "Confirm your email address" }).waitFor(WAIT);
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.getByRole("status").filter({ hasText: "Your email address is confirmed." }).waitFor(WAIT);
    await page.goto(`${storefrontUrl}/#/account`);
    await page.getByText(`${customer.email} — verified`).waitFor(WAIT);
    await shot(page, "phone-account");
  });

  await step("sign out, reset the password from the mail's link, sign in with the new one", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    // The reset page's own form: on a slow machine the sign-in form (its own Email) may still be on the page.
    const forgot = page.locator("form", { has: page.getByRole("button", { name: "Mail me a code" }) });
    await forgot.getByLabel("Email", { exact: true }).fill(customer.email);
    await forgot.getByRole("button", { name: "Mail me a code" }).click();
    await page.getByRole("status").filter({ hasText: "a code is on its way" }).waitFor(WAIT);
    const token = await ask("reset");
    await page.goto(`${storefrontUrl}/reset-password?token=${encodeURIComponent(token)}`);
    await page.getByLabel("New password", { exact: true }).fill(customer.newPassword);
    await page.getByRole("button", { name: "Set new password" }).click();
    await page.getByRole("status").filter({ hasText: "Your password is changed" }).waitFor(WAIT);
    await page.goto(`${storefrontUrl}/#/account`);
    const login = page.locator("form", { has: page.getByRole("button", { name: "Sign in" }) });
    await login.getByLabel("Email", { exact: true }).fill(customer.email);
    await login.getByLabel("Password", { exact: true }).fill(customer.newPassword);
    await login.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor(WAIT);
  });

  const origins = [new URL(storefrontUrl).origin, new URL(routerUrl).origin];
  for (const r of requests) {
    if (!r.startsWith("data:") && !origins.includes(new URL(r).origin)) problems.push(`external request: ${r}`);
  }
  console.log(JSON.stringify({ ok: problems.length === 0, problems, orderId, steps }));
  process.exitCode = problems.length === 0 ? 0 : 1;
} catch (error) {
  const page = context?.pages()[0];
  if (page) await shot(page, "failure").catch(() => undefined);
  console.log(JSON.stringify({ ok: false, problems: [...problems, String(error)], steps }));
  process.exitCode = 1;
} finally {
  process.stdin.destroy();
  if (context) await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
