// Drives Debian's chromium, headless, through /playground as people would,
// with no network beyond loopback. Run by internal/server's
// TestPlaygroundInBrowser, which starts the servers and passes, as JSON in
// argv[2]:
//   dev, prod            base URLs of a development and a production server
//   adminEmail           signs in on dev through POST /v1/auth/dev/login
//   adminTasks           how many tasks that admin has
//   prodAdmin, prodMember  access tokens on prod (its sign-in is Google's)
//   cookie               the access cookie's name
//   introspection        graphql-js getIntrospectionQuery() text
//   out                  folder for the screenshots
// Prints one line per check and ends with "playground browser test: ok",
// or exits 1 naming what failed. PLAYGROUND_CONSOLE=1 also prints what the
// pages log.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);
mkdirSync(cfg.out, { recursive: true });

const step = (msg) => console.log(`- ${msg}`);
const fail = (msg) => {
  throw new Error(msg);
};

// Playwright gives every launch a fresh temporary --user-data-dir.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  chromiumSandbox: false,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // Nothing but loopback resolves: a request elsewhere fails in the browser
    // itself, and the route below reports it.
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  ],
});

const outside = [];
const problems = [];
const assets = new Set();

// session opens a fresh browser profile's context (no cookies), allowed to
// reach the loopback servers only, recording anything else it tries and
// every script error and CSP refusal its pages report.
async function session(label) {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await ctx.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') {
      if (url.pathname.startsWith('/playground/assets/')) assets.add(url.pathname.slice('/playground/assets/'.length));
      return route.continue();
    }
    outside.push(`${label}: ${route.request().url()}`);
    return route.abort('blockedbyclient');
  });
  const page = await ctx.newPage();
  page.on('pageerror', (err) => problems.push(`${label}: page error: ${err.message}`));
  page.on('console', (msg) => {
    if (process.env.PLAYGROUND_CONSOLE) console.log(`  [${label}] console.${msg.type()}: ${msg.text().slice(0, 200)}`);
    if (/Content Security Policy|Refused to|Could not create web worker/i.test(msg.text())) {
      problems.push(`${label}: ${msg.text()}`);
    }
  });
  return { ctx, page };
}

// Monaco editors, by the model GraphiQL gives each.
const queryEditor = '.graphiql-query-editor .monaco-editor';
const headersEditor = '.monaco-editor[data-uri$="request-headers.json"]';

// editorText reads what an editor shows. Monaco draws a line per element,
// placed by its top (the elements' order is not the lines'), with
// non-breaking spaces.
const editorText = (page, selector) =>
  page.locator(`${selector} .view-lines`).first().evaluate((el) =>
    [...el.querySelectorAll('.view-line')]
      .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
      .map((l) => l.textContent)
      .join('\n')
      .replace(/\u00a0/g, ' '));

async function openPlayground(page, base) {
  const res = await page.goto(`${base}/playground`);
  if (res.status() !== 200) fail(`GET /playground: HTTP ${res.status()}, want 200`);
  await page.locator(queryEditor).waitFor({ timeout: 30_000 });
}

// setEditor replaces an editor's text as a paste would.
async function setEditor(page, selector, text) {
  await page.locator(selector).click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

// run executes the operation and returns the result pane's JSON once it
// shows the server's answer.
async function run(page, query) {
  await setEditor(page, queryEditor, query);
  const answered = page.waitForResponse((r) => r.request().method() === 'POST' &&
    new URL(r.url()).pathname === '/graphql' && (r.request().postData() ?? '').includes(JSON.stringify(query)));
  await page.locator('.graphiql-execute-button').click();
  const res = await answered;
  const body = await res.text();
  let want;
  try {
    want = JSON.stringify(JSON.parse(body));
  } catch {
    fail(`POST /graphql: HTTP ${res.status()}, not JSON: ${body.slice(0, 300)}`);
  }
  const shown = () => editorText(page, '.graphiql-response');
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await page.waitForTimeout(100)) {
    try {
      const got = JSON.parse(await shown());
      if (JSON.stringify(got) === want) return got;
    } catch {
      // not drawn yet
    }
  }
  return fail(`POST /graphql answered HTTP ${res.status()} ${body.slice(0, 300)}; the result pane shows ${await shown()}`);
}

// openDocsOn opens the docs explorer and finds a type through its search.
async function openDocsOn(page, typeName) {
  await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
  // The root types are listed once the schema (the standard introspection
  // query's answer) is in.
  await page.locator('.graphiql-doc-explorer').getByText('Root Types').waitFor({ timeout: 15_000 });
  const search = page.locator('.graphiql-doc-explorer-search input');
  await search.click();
  await search.fill(typeName);
  await page.locator('.graphiql-doc-explorer-search-type', { hasText: new RegExp(`^${typeName}$`) }).first().click();
  const title = page.locator('.graphiql-doc-explorer-title');
  await title.filter({ hasText: new RegExp(`^${typeName}$`) }).waitFor({ timeout: 10_000 });
  const fields = await page.locator('.graphiql-doc-explorer-content .graphiql-doc-explorer-field-name').allTextContents();
  return fields;
}

async function main() {
  // 1. Development: an admin signs in (dev login sets the session cookies in
  // this browser), loads the playground, runs a query and reads the docs.
  {
    const { ctx, page } = await session('dev admin, cookie');
    const login = await ctx.request.post(`${cfg.dev}/v1/auth/dev/login`, {
      data: { email: cfg.adminEmail, name: 'Ada Admin' },
    });
    if (!login.ok()) fail(`dev login: HTTP ${login.status()}: ${await login.text()}`);
    const { accessToken } = await login.json();
    cfg.devToken = accessToken;
    step(`dev login as ${cfg.adminEmail}: session cookies set`);

    await openPlayground(page, cfg.dev);
    step('the playground loads from the server alone');
    const result = await run(page, '{ me { email } tasks(first: 3) { totalCount } }');
    if (result.errors || result.data?.me?.email !== cfg.adminEmail || result.data?.tasks?.totalCount !== cfg.adminTasks) {
      fail(`the query's result: ${JSON.stringify(result)}, want ${cfg.adminEmail} with ${cfg.adminTasks} tasks`);
    }
    step(`{ me { email } tasks(first: 3) { totalCount } } with the cookie: ${JSON.stringify(result.data)}`);
    await page.getByRole('button', { name: /^Prettify query/ }).click();
    await page.waitForFunction(() => document.querySelectorAll('.graphiql-query-editor .view-line').length > 1);
    const fields = await openDocsOn(page, 'Task');
    if (!fields.includes('title')) fail(`docs for Task list fields ${JSON.stringify(fields)}, want title among them`);
    step(`the docs explorer shows Task: ${fields.length} fields (${fields.slice(0, 5).join(', ')}, …)`);
    const shot = join(cfg.out, 'playground-task-docs.png');
    await page.screenshot({ path: shot });
    step(`screenshot: ${shot}`);
    await ctx.close();
  }

  // 2. A token pasted into Headers, in a browser with no cookie.
  {
    const { ctx, page } = await session('dev admin, Bearer');
    await openPlayground(page, cfg.dev);
    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    await setEditor(page, headersEditor, JSON.stringify({ Authorization: `Bearer ${cfg.devToken}` }));
    const result = await run(page, '{ me { email } }');
    if (result.data?.me?.email !== cfg.adminEmail) fail(`with a pasted Bearer token: ${JSON.stringify(result)}`);
    if ((await ctx.cookies()).length !== 0) fail('the Bearer session has cookies');
    step('with a pasted Bearer token and no cookie: me is the admin');
    await ctx.close();
  }

  // 3. Production: a member (signed in, not an admin) gets no playground and
  // no schema; an admin gets both.
  for (const [who, token] of [['member', cfg.prodMember], ['admin', cfg.prodAdmin]]) {
    const { ctx, page } = await session(`prod ${who}, cookie`);
    await ctx.addCookies([{ name: cfg.cookie, value: token, url: cfg.prod, httpOnly: true, sameSite: 'Lax' }]);
    const res = await page.goto(`${cfg.prod}/playground`);
    const introspection = await page.evaluate(async (query) => {
      const r = await fetch('/graphql', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ query }),
      });
      return { status: r.status, body: await r.json() };
    }, cfg.introspection);
    const schema = introspection.body.data?.__schema;
    const code = introspection.body.errors?.[0]?.extensions?.code;
    if (who === 'member') {
      if (res.status() !== 404) fail(`prod member: GET /playground: HTTP ${res.status()}, want 404`);
      const asset = await ctx.request.get(`${cfg.prod}/playground/assets/main.js`);
      if (asset.status() !== 404) fail(`prod member: GET /playground/assets/main.js: HTTP ${asset.status()}, want 404`);
      if (schema || code !== 'FORBIDDEN') fail(`prod member: introspection got ${JSON.stringify(introspection).slice(0, 300)}, want FORBIDDEN and no schema`);
      step(`production, a member: /playground 404, its assets 404, introspection ${code} with no schema`);
    } else {
      if (res.status() !== 200) fail(`prod admin: GET /playground: HTTP ${res.status()}, want 200`);
      if (!schema?.types?.some((t) => t.name === 'Task')) fail(`prod admin: introspection got ${JSON.stringify(introspection).slice(0, 300)}`);
      await page.locator(queryEditor).waitFor({ timeout: 30_000 });
      const fields = await openDocsOn(page, 'Task');
      if (!fields.includes('title')) fail(`prod admin: docs for Task list ${JSON.stringify(fields)}`);
      step(`production, an admin: the playground, the standard introspection query (${schema.types.length} types) and the docs`);
    }
    await ctx.close();
  }

  if (outside.length) fail(`requests beyond loopback: ${outside.join(', ')}`);
  // Monaco falls back to running its language services on the page, with a
  // warning only, when it cannot start a worker: make sure they started.
  const fetched = [...assets].sort();
  for (const want of ['main.js', 'main.css', 'editor.worker.js', 'graphql.worker.js', 'json.worker.js']) {
    if (!fetched.includes(want)) fail(`the playground did not load ${want} (it loaded ${fetched.join(', ')})`);
  }
  step(`no request left loopback; the server gave ${fetched.join(', ')}`);
  if (problems.length) fail(`the pages reported: ${problems.join('; ')}`);
}

try {
  await main();
  console.log('playground browser test: ok');
} catch (err) {
  console.log(`playground browser test: FAILED: ${err.message}`);
  if (outside.length) console.log(`requests beyond loopback: ${outside.join(', ')}`);
  if (problems.length) console.log(`the pages reported: ${problems.join('; ')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
