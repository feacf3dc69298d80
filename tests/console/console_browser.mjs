// Drives the admin console in Debian's headless Chromium (playwright-core, no downloaded browser) at a laptop's
// 1366x768: signs in with the keyboard, reads the revenue chart's points, adjusts a product's stock, watches an
// order arrive live, replays a dead letter and a dead webhook delivery, signs out (and is signed out
// when its token is refused); a screenshot of each page.
// usage: node console_browser.mjs '<json: url, email, password, from, to, lowProduct, delta, deadLetter,
//        deadDelivery, customerToken, orderProduct, routerUrl, expectedPoints, screenshots>'
//        (prints one JSON line; exit 1 on failure)
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const args = JSON.parse(process.argv[2]);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const userDataDir = mkdtempSync(join(tmpdir(), "myshop-console-"));
const problems = [];
const requests = [];
const report = {};
let context;
const frames = [];
const WAIT = 45000;
const pending = new Map(); // the router requests sent and not yet answered (a failure's report)
mkdirSync(args.screenshots, { recursive: true });

async function shot(page, name) {
  await page.screenshot({ path: join(args.screenshots, `${name}.png`), fullPage: false });
  // Usable on a laptop: nothing wider than its 1366 px screen (no sideways scrolling).
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 1366) problems.push(`${name}: the page is ${width} px wide`);
}

async function open(page, title) {
  await page.getByRole("link", { name: title, exact: true }).click();
  await page.getByRole("heading", { level: 1, name: title }).waitFor();
}

async function routerCall(query, variables) {
  const response = await fetch(args.routerUrl, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${args.customerToken}` },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

// The customer places one of the best seller (confirmed at once: `tok_approve`); its id.
async function placeOrder() {
  const placed = await routerCall("mutation P($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }", {
    input: { items: [{ productId: args.orderProduct, quantity: 1 }], paymentMethod: "tok_approve", idempotencyKey: `console-${Date.now()}` },
  });
  if (placed.data?.placeOrder?.status !== "CONFIRMED") throw new Error(`placeOrder: ${JSON.stringify(placed)}`);
  return placed.data.placeOrder.id;
}

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1366, height: 768 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // Longer than the router's 30 s request timeout: a query stuck behind a subgraph shows as the page's error in
  // the report, not as a bare wait. (Under CI's load some lists took over 20 s; why is not known yet.)
  page.setDefaultTimeout(WAIT);
  page.on("request", (r) => {
    requests.push(r.url());
    if (r.url() === args.routerUrl) pending.set(r, `${new Date().toISOString()} ${r.postData()?.slice(0, 120)}`);
  });
  // Router requests slower than half a second (start to the answer's end, as the browser timed them).
  report.slowRequests = [];
  page.on("requestfinished", (r) => {
    pending.delete(r);
    const took = r.timing().responseEnd;
    if (r.url() === args.routerUrl && took > 500) {
      report.slowRequests.push(`${Math.round(took)} ms: ${r.postData()?.slice(0, 100)}`);
    }
  });
  let dropping = false; // the best sellers' step drops a request on purpose: its failure is no problem
  page.on("requestfailed", (r) => {
    pending.delete(r);
    if (dropping && r.url() === args.routerUrl) return;
    problems.push(`failed: ${r.url()} ${r.failure()?.errorText} ${r.postData()?.slice(0, 200) ?? ""}`);
  });
  let refusalExpected = false; // the stale token's step: the router answers 401, as it should
  page.on("response", (r) => {
    if (r.status() >= 400 && !(refusalExpected && r.status() === 401)) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  // Every answer of the router is GraphQL: data, errors, or both; anything else is written down whole.
  page.on("response", async (r) => {
    if (r.url() !== args.routerUrl || r.request().method() !== "POST") return;
    const text = await r.text().catch(() => null); // gone when the page has moved on (sign-out)
    if (text === null) return;
    let body = null;
    try { body = JSON.parse(text); } catch {}
    if (body?.data == null && !body?.errors?.length) {
      problems.push(`no data nor errors: HTTP ${r.status()} ${text.slice(0, 400)} for ${r.request().postData()?.slice(0, 300)}`);
    }
  });
  // The WebSocket's frames, kept for a failure's report (the live step's: did the updates come?).
  page.on("websocket", (ws) => {
    frames.push(`open ${ws.url()}`);
    ws.on("framesent", (f) => frames.push(`> ${String(f.payload).slice(0, 160)}`));
    ws.on("framereceived", (f) => frames.push(`< ${String(f.payload).slice(0, 300)}`));
    ws.on("close", () => frames.push("closed"));
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error" || (dropping && m.text().includes("net::ERR_CONNECTION_RESET"))) return;
    problems.push(`console error: ${m.text()}`);
  });

  report.step = "sign-in"; // the step says where a failure happened
  // Sign in with the keyboard alone: labelled fields, Tab between them, Enter submits.
  await page.goto(args.url, { waitUntil: "load" });
  await page.getByLabel("Email").focus();
  await page.keyboard.type(args.email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(args.password);
  await shot(page, "0-sign-in");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { level: 1, name: "Sales" }).waitFor();

  report.step = "sales";
  // Sales: the window and interval chosen, the chart has one point per day, the table the same figures.
  await page.getByLabel("From").fill(args.from);
  await page.getByLabel("To").fill(args.to);
  await page.getByLabel("Interval").selectOption("DAY");
  await page.waitForFunction(
    (n) => document.querySelector("#revenue-chart")?.getAttribute("data-points") === String(n),
    args.expectedPoints,
  );
  report.points = Number(await page.locator("#revenue-chart").getAttribute("data-points"));
  report.orderPoints = Number(await page.locator("#orders-chart").getAttribute("data-points"));
  await page.getByText("The figures as a table").click();
  report.salesRows = await page.locator("details table tbody tr").evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll("th, td")].map((cell) => cell.textContent)),
  );
  await shot(page, "1-sales");

  report.step = "best-sellers";
  await open(page, "Best sellers");
  // The next list request is dropped on its way (the connection reset): the page says so and offers to try
  // again, which brings the list.
  dropping = true;
  await page.route(args.routerUrl, (route) => route.abort("connectionreset"));
  await page.getByLabel("Show").selectOption("100");
  const retry = page.getByRole("button", { name: "Try again" });
  await retry.waitFor();
  report.droppedAlert = await page.getByRole("alert").textContent();
  await page.unroute(args.routerUrl);
  await retry.click();
  await page.locator("table tbody tr").first().waitFor();
  dropping = false;
  report.bestSellers = await page.locator("table tbody th").allTextContents();
  await shot(page, "2-best-sellers");

  report.step = "low-stock";
  // Low stock: adjust one product and see its row's figures change.
  await open(page, "Low stock");
  const row = page.locator(`tr[data-product-id="${args.lowProduct}"]`);
  await row.waitFor();
  report.availableBefore = Number(await row.locator(".available").textContent());
  await row.getByRole("spinbutton").fill(String(args.delta));
  await row.getByRole("textbox").fill("console test delivery");
  await row.getByRole("button", { name: "Adjust" }).click();
  const expected = String(report.availableBefore + args.delta);
  await page.waitForFunction(
    ([id, text]) => document.querySelector(`tr[data-product-id="${id}"] .available`)?.textContent === text,
    [args.lowProduct, expected],
  );
  report.availableAfter = Number(await row.locator(".available").textContent());
  report.onHandAfter = Number(await row.locator(".on-hand").textContent());
  await shot(page, "3-low-stock");

  report.step = "orders";
  // Orders: live over the router's WebSocket; an order placed now shows up without a reload.
  await open(page, "Orders");
  const ordersOpened = Date.now();
  // When the list itself comes (live rows need none): its seconds, or null if it never did (a slow one is
  // warned of, with what the stack was doing meanwhile).
  const listed = page.locator('#orders[data-listed="true"]').waitFor().then(
    () => (Date.now() - ordersOpened) / 1000,
    () => null,
  );
  await page.waitForFunction(() => document.querySelector("#live-status")?.textContent?.endsWith(": live"));
  report.liveOrder = await placeOrder();
  try {
    await page.waitForFunction(
      (id) => document.querySelector(`tr[data-order-id="${id}"] .order-status`)?.textContent === "CONFIRMED",
      report.liveOrder,
    );
  } catch (error) {
    // What the page shows of the orders, and what the router says of this one (the catch below adds the rest).
    report.seen = await page.evaluate((id) => ({
      live: document.querySelector("#live-status")?.textContent,
      caption: document.querySelector("#orders caption")?.textContent ?? null,
      row: document.querySelector(`tr[data-order-id="${id}"]`)?.textContent ?? null,
    }), report.liveOrder);
    report.orderNow = await routerCall("query O($id: ID!) { order(id: $id) { status updatedAt } }", { id: report.liveOrder });
    throw error;
  }
  report.liveStatus = await page.locator(`tr[data-order-id="${report.liveOrder}"] .order-status`).textContent();
  report.ordersListSeconds = await listed;
  await shot(page, "4-orders");
  report.step = "orders-filtered";
  // Filtered by status: only such orders (the confirmed ones gone).
  await page.getByLabel("Status").selectOption("FAILED");
  await page.locator("#orders caption", { hasText: "with status FAILED" }).waitFor();
  report.failedStatuses = await page.locator("#orders tbody .order-status").allTextContents();

  report.step = "dead-letters";
  // Dead letters: replay one; it leaves the list.
  // The keyboard reaches every page: the nav's links take focus and Enter follows one.
  await page.getByRole("link", { name: "Dead letters", exact: true }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { level: 1, name: "Dead letters" }).waitFor();
  const letter = page.locator(`tr[data-dead-letter-id="${args.deadLetter}"]`);
  await letter.waitFor();
  await shot(page, "5-dead-letters");
  await letter.getByRole("button", { name: /^Replay / }).click();
  await letter.waitFor({ state: "detached" });
  report.replayMessage = await page.locator("#dead-analyticsDeadLetters .replay-message").textContent();
  // A partner's webhook delivery that gave up: replayed, it leaves the list of dead ones.
  const delivery = page.locator(`tr[data-delivery-id="${args.deadDelivery}"]`);
  await delivery.getByRole("button", { name: /^Replay / }).click();
  await delivery.waitFor({ state: "detached" });
  report.webhookReplayMessage = await page.locator("#dead-webhooks .replay-message").textContent();
  await shot(page, "6-dead-letters-replayed");

  report.step = "sign-out";
  // Signing out revokes the token at the router; the next step's navigation must not cut that request off.
  const loggedOut = page.waitForResponse((r) => r.request().postData()?.includes("mutation { logout }") ?? false);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  report.logout = (await (await loggedOut).json()).data?.logout ?? null;
  report.signedOut = await page.evaluate(() => sessionStorage.length === 0);

  report.step = "stale-token";
  // A token the router no longer accepts (expired, revoked) signs the console out by itself.
  refusalExpected = true;
  await page.evaluate(() =>
    sessionStorage.setItem("myshop.console.token", JSON.stringify({ token: "not-a-token", email: "gone@myshop.dev" })),
  );
  await page.goto(new URL("/orders", args.url).toString(), { waitUntil: "load" });
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  report.staleTokenSignedOut = await page.evaluate(() => sessionStorage.length === 0);

  const origins = new Set([new URL(args.url).origin, new URL(args.routerUrl).origin]);
  for (const url of requests) {
    if (!url.startsWith("data:") && !origins.has(new URL(url).origin)) problems.push(`external request: ${url}`);
  }
  if (problems.length > 0) report.frames = frames.slice(-40);
  console.log(JSON.stringify({ ok: problems.length === 0, problems, ...report }));
  process.exitCode = problems.length === 0 ? 0 : 1;
} catch (error) {
  try {
    const page = context?.pages()[0];
    if (page) {
      await shot(page, "failure");
      // What the page said, and the router requests still unanswered, when a step gave up.
      report.page = await page.evaluate(() => ({
        heading: document.querySelector("h1")?.textContent ?? null,
        alert: document.querySelector("[role=alert]")?.textContent ?? null,
        busy: document.querySelector(".status")?.textContent ?? null,
      }));
      report.pending = [...pending.values()];
    }
  } catch {}
  console.log(JSON.stringify({ ok: false, problems: [...problems, String(error)], ...report, frames: frames.slice(-40) }));
  process.exitCode = 1;
} finally {
  if (context) await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
