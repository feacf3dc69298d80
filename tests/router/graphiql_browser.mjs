// Drives the router's GraphiQL in Debian's headless Chromium (playwright-core, no downloaded browser):
// loads the page, fails on any failed request or page error, runs a query and waits for its result.
// usage: node graphiql_browser.mjs URL QUERY EXPECTED_TEXT   (prints one JSON line; exit 1 on failure)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, query, expected] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const userDataDir = mkdtempSync(join(tmpdir(), "myshop-graphiql-"));
const problems = [];
const requests = [];
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("request", (r) => requests.push(r.url()));
  page.on("requestfailed", (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });

  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 20000 });
  // The schema arrived (introspection through the router) when the docs explorer can open.
  await page.evaluate((q) => {
    document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(q);
  }, query);
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    (text) => {
      const result = document.querySelector(".result-window .CodeMirror");
      return result && result.CodeMirror.getValue().includes(text);
    },
    expected,
    { timeout: 20000 },
  );
  const result = await page.evaluate(
    () => document.querySelector(".result-window .CodeMirror").CodeMirror.getValue(),
  );
  const external = requests.filter((r) => !r.startsWith(new URL(url).origin) && !r.startsWith("data:"));
  for (const r of external) problems.push(`external request: ${r}`);
  console.log(JSON.stringify({ ok: problems.length === 0, problems, result, requests }));
  process.exitCode = problems.length === 0 ? 0 : 1;
} catch (error) {
  console.log(JSON.stringify({ ok: false, problems: [...problems, String(error)], requests }));
  process.exitCode = 1;
} finally {
  if (context) await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
