// Browser tests of the auth and event webhooks: sora-js-sdk clients connect
// to a second server (started by e2e/run.sh with --auth-webhook-url and
// --event-webhook-url) whose webhook endpoint this file serves. The webhook
// allows every connect, with authz metadata, unless the connect's metadata
// asks to be denied.
//
// Env: SFU_AUTH_SIGNALING_URL (default ws://127.0.0.1:5001/signaling),
//      SFU_WEBHOOK_PORT (default 5098).
import http from "node:http";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomChannel, useBrowser, withClients } from "../lib/harness.mjs";

const T = 60_000;
const AUTH_SIGNALING_URL = process.env.SFU_AUTH_SIGNALING_URL || "ws://127.0.0.1:5001/signaling";
const WEBHOOK_PORT = Number(process.env.SFU_WEBHOOK_PORT || 5098);

const env = useBrowser(T);

// What the webhook endpoint received: auth calls and events, in order.
const received = { auth: [], event: [] };
const waiters = new Set();
let server = null;

function notify() {
  for (const w of waiters) w();
}

/** Resolves to the first event webhook matching pred (already received or not). */
function waitForEvent(pred, what, timeout = 20_000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const ev = received.event.find(pred);
      if (!ev) return false;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(ev);
      return true;
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`no ${what} event webhook; got ${JSON.stringify(received.event.map((e) => e.type))}`));
    }, timeout);
    if (!check()) waiters.add(check);
  });
}

before(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      let msg = null;
      try {
        msg = JSON.parse(body);
      } catch {
        res.writeHead(400).end();
        return;
      }
      if (req.url === "/auth") {
        received.auth.push(msg);
        const deny = msg.metadata?.deny;
        const answer = deny
          ? { allowed: false, reason: deny }
          : { allowed: true, authz_metadata: { plan: "e2e", user: msg.metadata?.user ?? null }, event_metadata: { from: "e2e" } };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
        return;
      }
      received.event.push({ ...msg, header: req.headers["sora-event-webhook-type"] });
      res.writeHead(200).end();
      notify();
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(WEBHOOK_PORT, "127.0.0.1", resolve);
  });
});

after(async () => {
  server?.closeAllConnections?.();
  await new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

/** Starts the SDK on the auth server; resolves to {connectionId} or {error}. */
function startAuthed(client, { role = "recvonly", channelId, metadata }) {
  return client.page.evaluate(
    async (args) => {
      try {
        return { connectionId: await window.start(args) };
      } catch (e) {
        return { error: { message: String(e.message ?? e), code: e.code ?? null, reason: e.reason ?? null } };
      }
    },
    { role, channelId, metadata, signalingUrl: AUTH_SIGNALING_URL },
  );
}

describe("auth and event webhooks", () => {
  test("an allowed connect sees its authz metadata; a denied one sees the reason", { timeout: T }, async () => {
    await withClients(env.browser, env.sdkPage, async (open) => {
      const channelId = randomChannel("auth");
      const a = await open("A");
      const ok = await startAuthed(a, { channelId, metadata: { user: "alice" } });
      assert.equal(ok.error, undefined, `allowed connect failed: ${JSON.stringify(ok.error)}`);
      const idA = ok.connectionId;

      const call = received.auth.find((c) => c.connection_id === idA);
      assert.ok(call, "no auth webhook call for the connection");
      assert.equal(call.channel_id, channelId);
      assert.equal(call.role, "recvonly");
      assert.deepEqual(call.metadata, { user: "alice" });
      assert.match(call.sora_client?.raw ?? "", /Sora JavaScript SDK/);

      // The offer's metadata, as the SDK keeps it, and the own notify.
      assert.deepEqual(await a.page.evaluate(() => window.conn.authMetadata), { plan: "e2e", user: "alice" });
      const own = await a.waitForNotify("connection.created", idA);
      assert.deepEqual(own.authz_metadata, { plan: "e2e", user: "alice" });

      const created = await waitForEvent((e) => e.type === "connection.created" && e.connection_id === idA, "connection.created");
      assert.equal(created.header, "connection.created");
      assert.equal(created.channel_id, channelId);
      assert.deepEqual(created.event_metadata, { from: "e2e" });

      const b = await open("B");
      const denied = await startAuthed(b, { channelId, metadata: { user: "mallory", deny: "NOT-INVITED" } });
      assert.ok(denied.error, "denied connect succeeded");
      assert.equal(denied.error.code, 4490, JSON.stringify(denied.error));
      assert.equal(denied.error.reason, "NOT-INVITED", JSON.stringify(denied.error));

      await a.page.evaluate(() => window.disconnect());
      const destroyed = await waitForEvent(
        (e) => e.type === "connection.destroyed" && e.connection_id === idA, "connection.destroyed");
      assert.equal(destroyed.data.reason, "NO-ERROR");
      assert.ok(received.event.indexOf(created) < received.event.indexOf(destroyed));
    });
  });
});
