// Shared helpers for the browser tests: a tiny static server for the SDK test
// page, one headless Chromium, and a thin wrapper around a page that drives
// sora-js-sdk through the helpers that e2e/pages/sdk.html puts on `window`.
import http from "node:http";
import { after, before } from "node:test";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const e2eDir = path.resolve(here, "..");
const pagesDir = path.join(e2eDir, "pages");
const soraJs = path.join(e2eDir, "node_modules", "sora-js-sdk", "dist", "sora.js");

export const SIGNALING_URL = process.env.SFU_SIGNALING_URL || "ws://127.0.0.1:5000/signaling";
export const HTTP_URL = process.env.SFU_HTTP_URL || "http://127.0.0.1:5000/";
export const API_URL = process.env.SFU_API_URL || "http://127.0.0.1:3000/";
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
];

/** A fresh channel id per test so that tests never see each other. */
export function randomChannel(prefix = "e2e") {
  return `${prefix}-${randomUUID()}`;
}

const contentTypes = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/**
 * Serves e2e/pages/*.html at /<name>.html and the SDK at /sora.js on
 * 127.0.0.1 with a random port. Resolves to { url, close() }.
 */
export async function startStaticServer() {
  const server = http.createServer(async (req, res) => {
    const { pathname } = new URL(req.url, "http://x");
    let file = null;
    if (pathname === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    if (pathname === "/sora.js") {
      file = soraJs;
    } else if (/^\/[A-Za-z0-9_-]+\.(html|js|mjs|css)$/.test(pathname)) {
      file = path.join(pagesDir, pathname.slice(1));
    }
    if (!file) {
      res.writeHead(404).end("not found");
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": contentTypes[path.extname(file)] || "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
}

/**
 * One browser page (in its own context) that a test drives.
 * Console output and page errors are kept for the failure report.
 */
export class Client {
  constructor(name, context, page) {
    this.name = name;
    this.context = context;
    this.page = page;
    this.console = [];
    this.connectionId = null;
    page.on("console", (m) => this.console.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => this.console.push(`[pageerror] ${e.message}`));
  }

  /** Calls window.start() of the SDK page and remembers the connection id. */
  async start({ role = "sendrecv", channelId, options = {}, media = null, signalingUrl = SIGNALING_URL }) {
    await this.waitFor("the SDK page to load", () => window.ready === true, null, 10_000);
    this.connectionId = await this.page.evaluate(
      (args) => window.start(args),
      { role, channelId, signalingUrl, options, media },
    );
    return this.connectionId;
  }

  stats() {
    return this.page.evaluate(() => window.stats());
  }

  events() {
    return this.page.evaluate(() => window.events);
  }

  /**
   * Polls `fn(arg)` in the page (it may be async) until it returns a truthy
   * value; throws with `what` and a snapshot of the page state on timeout.
   */
  async waitFor(what, fn, arg, timeout = 20_000) {
    // page.waitForFunction does not await promises, and most predicates here
    // are async (getStats), so poll with page.evaluate instead.
    const deadline = Date.now() + timeout;
    let lastError = null;
    for (;;) {
      try {
        const value = await this.page.evaluate(fn, arg);
        if (value) return value;
        lastError = null;
      } catch (err) {
        lastError = err;
        if (this.page.isClosed()) break;
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    let snapshot = "";
    try {
      snapshot = JSON.stringify(
        await this.page.evaluate(async () => ({
          stats: window.stats ? await window.stats().catch((e) => String(e)) : undefined,
          events: window.events,
        })),
        (k, v) => (k === "sdp" ? undefined : v),
      );
    } catch (e) {
      snapshot = `(no snapshot: ${e.message})`;
    }
    const cause = lastError ? ` (last error: ${lastError.message.split("\n")[0]})` : "";
    throw new Error(`${this.name}: timed out after ${timeout} ms waiting for ${what}${cause}\nstate: ${snapshot}`);
  }

  /** Waits until video from `streamId` has decoded frames; returns that inbound entry. */
  waitForVideoFrom(streamId, timeout) {
    return this.waitFor(
      `decoded video from ${streamId}`,
      async (id) => {
        const s = await window.stats();
        return s.inbound.find((r) => r.kind === "video" && r.streamId === id && r.framesDecoded > 0) || false;
      },
      streamId,
      timeout,
    );
  }

  /** Waits until audio from `streamId` has arrived; returns that inbound entry. */
  waitForAudioFrom(streamId, timeout) {
    return this.waitFor(
      `audio from ${streamId}`,
      async (id) => {
        const s = await window.stats();
        return (
          s.inbound.find((r) => r.kind === "audio" && r.streamId === id && r.packetsReceived > 0 && r.bytesReceived > 0) ||
          false
        );
      },
      streamId,
      timeout,
    );
  }

  /** Waits for a notify with the event type and connection id; returns it. */
  waitForNotify(eventType, connectionId, timeout) {
    return this.waitFor(
      `notify ${eventType} for ${connectionId}`,
      ([type, id]) => window.events.notify.find((n) => n.event_type === type && n.connection_id === id) || false,
      [eventType, connectionId],
      timeout,
    );
  }

  /** Text describing this client, for failure reports. */
  async debugDump() {
    const lines = [`----- ${this.name} (connection ${this.connectionId}) -----`];
    try {
      const sig = await this.page.evaluate(() => window.events?.signaling ?? []);
      for (const ev of sig) {
        lines.push(`signaling ${ev.type}${ev.sdp ? `:\n${ev.sdp.trim()}` : ""}`);
      }
    } catch (e) {
      lines.push(`(signaling log unavailable: ${e.message})`);
    }
    if (this.console.length) lines.push("console:", ...this.console.map((l) => `  ${l}`));
    return lines.join("\n");
  }
}

/**
 * Runs `body(open)` where `open(name, url = pageUrl, { initScript })` makes a
 * new client page (in its own context) and loads `url`. Closes every context
 * at the end; on failure prints the signaling log (with SDPs) and console of
 * every client to stderr.
 */
export async function withClients(browser, pageUrl, body) {
  const clients = [];
  const open = async (name, url, { initScript } = {}) => {
    const context = await browser.newContext();
    if (initScript) await context.addInitScript(initScript);
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const client = new Client(name, context, page);
    clients.push(client);
    await page.goto(url ?? pageUrl, { waitUntil: "load" });
    return client;
  };
  try {
    return await body(open);
  } catch (err) {
    for (const c of clients) {
      process.stderr.write(`${await c.debugDump()}\n`);
    }
    throw err;
  } finally {
    await Promise.all(clients.map((c) => c.context.close().catch(() => {})));
  }
}

/**
 * Calls one management API operation (x-sora-target) and returns its JSON
 * answer; fails the test unless the status is 200.
 */
export async function api(target, body) {
  const res = await fetch(API_URL, {
    method: "POST",
    headers: { "x-sora-target": target, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${target}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * Registers before/after hooks that start the static server and one
 * Chromium for the test file, and returns them: `env.browser`,
 * `env.sdkPage` (the URL of the SDK page). Everything is closed after.
 */
export function useBrowser(timeout = 60_000) {
  const env = { browser: null, staticServer: null, sdkPage: null };
  before(async () => {
    env.staticServer = await startStaticServer();
    env.sdkPage = `${env.staticServer.url}/sdk.html`;
    env.browser = await launchBrowser();
    console.log(`chromium ${env.browser.version()}, signaling ${SIGNALING_URL}, demo ${HTTP_URL}`);
  }, { timeout });
  after(async () => {
    await env.browser?.close().catch(() => {});
    await env.staticServer?.close();
  }, { timeout });
  return env;
}
