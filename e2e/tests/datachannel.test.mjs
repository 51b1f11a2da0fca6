// Browser tests of DataChannel signaling and messaging: sora-js-sdk
// clients with dataChannelSignaling and ignoreDisconnectWebSocket get
// "switched", close their WebSocket and go on over DataChannels: a "#"
// message reaches the other client (zlib and the sender-id header where
// its label asks for them), a PushChannel arrives on the push
// DataChannel, and a publisher joining later is decoded after a re-offer
// that came over the signaling DataChannel.
//
// Env: as sfu.test.mjs, plus SFU_API_URL (default http://127.0.0.1:3000/).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, randomChannel, useBrowser, withClients } from "../lib/harness.mjs";

const T = 90_000;

const env = useBrowser(T);

const dcOptions = (chat) => ({
  dataChannelSignaling: true,
  ignoreDisconnectWebSocket: true,
  dataChannels: [chat],
});

describe("DataChannel signaling and messaging", () => {
  test("switched, #chat both ways, push and a re-offer over DataChannels", { timeout: T }, async () => {
    await withClients(env.browser, env.sdkPage, async (open) => {
      const channelId = randomChannel("dc");
      const a = await open("A");
      const idA = await a.start({
        role: "sendrecv", channelId,
        options: dcOptions({ label: "#chat", direction: "sendrecv" }),
      });
      const b = await open("B");
      const idB = await b.start({
        role: "recvonly", channelId,
        options: dcOptions({
          label: "#chat", direction: "sendrecv", compress: true, header: [{ type: "sender_connection_id" }],
        }),
      });

      for (const c of [a, b]) {
        const sw = await c.waitFor("switched", () => window.events.switched[0] || false);
        assert.equal(sw.ignore_disconnect_websocket, true);
        const viaWS = await c.page.evaluate(() =>
          window.events.signaling.find((e) => e.type === "onmessage-switched")?.transportType);
        assert.equal(viaWS, "websocket");
      }
      // B's own notify came before its switch; A's notify about B may
      // come either way, but once switched A's notifies use the DataChannel.

      // A → B: B's label has compress and the header, so the server
      // prefixes A's connection id and B's SDK inflates it.
      await a.page.evaluate(() => window.sendMessage("#chat", "hello from A"));
      const atB = await b.waitFor("A's message", () => window.events.message[0] || false);
      assert.deepEqual(atB, { label: "#chat", text: `${idA}hello from A` });
      // B → A: B's SDK deflates it; A's label is plain.
      await b.page.evaluate(() => window.sendMessage("#chat", "hi from B, ünïcode"));
      const atA = await a.waitFor("B's message", () => window.events.message[0] || false);
      assert.deepEqual(atA, { label: "#chat", text: "hi from B, ünïcode" });

      await api("Sora_20160711.PushChannel", { channel_id: channelId, data: { n: 1 } });
      for (const c of [a, b]) {
        const push = await c.waitFor("the push", () => window.events.push[0] || false);
        assert.deepEqual(push.data, { n: 1 });
        assert.equal(push.transport, "datachannel");
      }

      // A third client publishes; B's re-offer must come over the
      // signaling DataChannel (its WebSocket is closed) and be decoded.
      const c = await open("C");
      const idC = await c.start({ role: "sendonly", channelId });
      await b.waitForVideoFrom(idC, 30_000);
      await a.waitForVideoFrom(idC, 30_000);
      for (const x of [a, b]) {
        const reOffers = await x.page.evaluate(() =>
          window.events.signaling.filter((e) => e.type === "onmessage-re-offer").map((e) => e.transportType));
        assert.ok(reOffers.includes("datachannel"), `${x.name}: re-offers came over ${reOffers}`);
        const n = await x.page.evaluate((id) =>
          window.events.notify.find((m) => m.event_type === "connection.created" && m.connection_id === id), idC);
        assert.equal(n.transport, "datachannel");
      }
      assert.deepEqual(await b.events().then((e) => e.disconnect), []);

      // B's disconnect() goes over the signaling DataChannel; the server
      // closes B's DataChannels, which the SDK reports as a normal end.
      await b.page.evaluate(() => window.disconnect());
      assert.deepEqual(await b.events().then((e) => e.disconnect),
        [{ type: "normal", title: "DISCONNECT", code: 1000, reason: "TYPE-DISCONNECT" }]);
      // The API ends A: the close message on the signaling DataChannel.
      await api("Sora_20151104.DisconnectConnection", { channel_id: channelId, connection_id: idA });
      const end = await a.waitFor("A's disconnect event", () => window.events.disconnect[0] || false);
      assert.deepEqual(end, { type: "normal", title: "SHUTDOWN", code: 1000, reason: "DISCONNECTED-API" });
      assert.ok(idB);
    });
  });

  test("messaging() connections: no media, a message each way", { timeout: T }, async () => {
    await withClients(env.browser, env.sdkPage, async (open) => {
      const channelId = randomChannel("msg");
      const options = { dataChannels: [{ label: "#room", direction: "sendrecv" }] };
      const a = await open("A");
      await a.start({ role: "messaging", channelId, options });
      const b = await open("B");
      const idB = await b.start({ role: "messaging", channelId, options });
      for (const c of [a, b]) await c.waitFor("switched", () => window.events.switched[0] || false);
      await a.waitForNotify("connection.created", idB);
      await a.page.evaluate(() => window.sendMessage("#room", "ping"));
      assert.deepEqual(await b.waitFor("A's message", () => window.events.message[0] || false), { label: "#room", text: "ping" });
      await b.page.evaluate(() => window.sendMessage("#room", "pong"));
      assert.deepEqual(await a.waitFor("B's message", () => window.events.message[0] || false), { label: "#room", text: "pong" });
      const media = await a.page.evaluate(() => window.conn.pc.getTransceivers().length);
      assert.equal(media, 0);
    });
  });
});
