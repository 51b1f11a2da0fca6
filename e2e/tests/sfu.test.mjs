// Browser end-to-end tests: the official sora-js-sdk (2026.1.0) and the
// project's demo page, in headless Chromium, against a running gosfu server.
//
// Env: SFU_SIGNALING_URL (default ws://127.0.0.1:5000/signaling),
//      SFU_HTTP_URL (default http://127.0.0.1:5000/), CHROMIUM_PATH.
// Run through e2e/run.sh, which builds and starts the server.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  HTTP_URL,
  randomChannel,
  useBrowser,
  withClients,
} from "../lib/harness.mjs";

const T = 60_000; // per-test bound

const env = useBrowser(T);

const clients = (body) => withClients(env.browser, env.sdkPage, body);

function notifiesOf(events, type) {
  return events.notify.filter((n) => n.event_type === type);
}

describe("sora-js-sdk", () => {
  test("harness: the SDK loads from the static server", { timeout: T }, async () => {
    await clients(async (open) => {
      const a = await open("A");
      assert.equal(await a.page.evaluate(() => window.sdkVersion), "2026.1.0");
    });
  });

  test("two sendrecv clients exchange audio and video", { timeout: T }, async () => {
    await clients(async (open) => {
      const channelId = randomChannel();
      const [a, b] = [await open("A"), await open("B")];
      const options = { videoCodecType: "VP8" };
      const idA = await a.start({ role: "sendrecv", channelId, options });
      const idB = await b.start({ role: "sendrecv", channelId, options });
      assert.match(idA, /^[0-9A-Z]{26}$/, "connection id is 26 characters of base32");
      assert.match(idB, /^[0-9A-Z]{26}$/);
      assert.notEqual(idA, idB);

      for (const [self, other] of [[a, idB], [b, idA]]) {
        await self.waitForVideoFrom(other);
        await self.waitForAudioFrom(other);
      }

      // track events: one audio and one video, both in the other's stream.
      for (const [self, other] of [[a, idB], [b, idA]]) {
        await self.waitFor("audio and video track events", () => window.events.track.length >= 2);
        const ev = await self.events();
        assert.deepEqual(new Set(ev.track.map((t) => t.streamId)), new Set([other]), `${self.name} track stream ids`);
        assert.deepEqual(new Set(ev.track.map((t) => t.kind)), new Set(["audio", "video"]), `${self.name} track kinds`);
      }

      // connection.created: own one for each, plus A learns about B.
      const ownA = await a.waitForNotify("connection.created", idA);
      const ownB = await b.waitForNotify("connection.created", idB);
      await a.waitForNotify("connection.created", idB);
      assert.deepEqual(ownA.data ?? [], [], "A was alone: its own notify lists nobody");
      assert.ok(Array.isArray(ownB.data), "B's own connection.created has data");
      assert.deepEqual(ownB.data.map((d) => d.connection_id), [idA], "B's own connection.created lists A in data");
      assert.equal(ownB.channel_connections, 2, "channel_connections counts both");
      assert.equal(ownB.channel_sendrecv_connections, 2);

      // Own notifies come after the offer (so the SDK sees them as its own) and exactly once.
      const evA = await a.events();
      const evB = await b.events();
      assert.equal(notifiesOf(evA, "connection.created").filter((n) => n.connection_id === idA).length, 1);
      assert.equal(notifiesOf(evB, "connection.created").filter((n) => n.connection_id === idB).length, 1);
      assert.deepEqual(await a.page.evaluate(() => window.remoteConnectionIds()), [idB]);
      assert.deepEqual(await b.page.evaluate(() => window.remoteConnectionIds()), [idA]);
    });
  });

  test("sendonly + recvonly: default codecs are VP9 and Opus", { timeout: T }, async () => {
    await clients(async (open) => {
      const channelId = randomChannel();
      const [pub, sub] = [await open("sendonly"), await open("recvonly")];
      const idPub = await pub.start({ role: "sendonly", channelId });
      await sub.start({ role: "recvonly", channelId });

      const video = await sub.waitForVideoFrom(idPub);
      const audio = await sub.waitForAudioFrom(idPub);
      assert.equal(video.codec, "video/VP9");
      assert.equal(audio.codec, "audio/opus");

      const out = await pub.waitFor("outbound audio and video with codecs", async () => {
        const s = await window.stats();
        const v = s.outbound.find((r) => r.kind === "video" && r.codec && r.bytesSent > 0);
        const a = s.outbound.find((r) => r.kind === "audio" && r.codec && r.bytesSent > 0);
        return v && a ? { video: v.codec, audio: a.codec } : false;
      });
      assert.deepEqual(out, { video: "video/VP9", audio: "audio/opus" });

      // The sender receives nothing and the receiver sends nothing.
      assert.deepEqual((await pub.events()).track, []);
      assert.deepEqual((await sub.stats()).outbound.filter((r) => r.bytesSent > 0), []);
    });
  });

  for (const codec of ["VP8", "VP9", "AV1"]) {
    test(`video codec ${codec} is negotiated when requested`, { timeout: T }, async () => {
      await clients(async (open) => {
        const channelId = randomChannel();
        const [a, b] = [await open("A"), await open("B")];
        const options = { videoCodecType: codec };
        const idA = await a.start({ role: "sendrecv", channelId, options });
        const idB = await b.start({ role: "sendrecv", channelId, options });
        for (const [self, other] of [[a, idB], [b, idA]]) {
          const inbound = await self.waitForVideoFrom(other);
          assert.equal(inbound.codec, `video/${codec}`, `${self.name} inbound codec`);
          const outbound = await self.waitFor(`outbound video codec`, async () => {
            const s = await window.stats();
            return s.outbound.find((r) => r.kind === "video" && r.codec && r.framesEncoded > 0) || false;
          });
          assert.equal(outbound.codec, `video/${codec}`, `${self.name} outbound codec`);
        }
      });
    });
  }

  test("a late joiner is seen by everyone, and a leaver is removed", { timeout: T }, async () => {
    await clients(async (open) => {
      const channelId = randomChannel();
      const [a, b, c] = [await open("A"), await open("B"), await open("C")];
      const idA = await a.start({ role: "sendrecv", channelId });
      const idB = await b.start({ role: "sendrecv", channelId });
      await a.waitForVideoFrom(idB);
      await b.waitForVideoFrom(idA);

      const idC = await c.start({ role: "sendrecv", channelId });
      for (const self of [a, b]) {
        await self.waitForVideoFrom(idC);
        await self.waitForNotify("connection.created", idC);
        const ev = await self.events();
        assert.deepEqual(
          new Set(ev.track.filter((t) => t.streamId === idC).map((t) => t.kind)),
          new Set(["audio", "video"]),
          `${self.name} got audio and video tracks of C`,
        );
      }
      await c.waitForVideoFrom(idA);
      await c.waitForVideoFrom(idB);
      const ownC = await c.waitForNotify("connection.created", idC);
      assert.deepEqual(new Set((ownC.data ?? []).map((d) => d.connection_id)), new Set([idA, idB]));

      // C leaves.
      await c.page.evaluate(() => window.disconnect());
      for (const self of [a, b]) {
        const destroyed = await self.waitForNotify("connection.destroyed", idC);
        assert.equal(destroyed.channel_connections, 2, `${self.name}: two connections remain`);
        await self.waitFor(
          "removetrack of C's audio and video",
          (id) => {
            const kinds = new Set(window.events.removetrack.filter((r) => r.streamId === id).map((r) => r.kind));
            return kinds.has("audio") && kinds.has("video");
          },
          idC,
        );
        await self.waitFor("remoteConnectionIds without C", (id) => !window.remoteConnectionIds().includes(id), idC);
        const ev = await self.events();
        assert.ok(!ev.removetrack.some((r) => r.streamId !== idC), `${self.name}: only C's tracks were removed`);
      }

      // A and B still get media from each other after the churn.
      const before = (await a.waitForVideoFrom(idB)).framesDecoded;
      await a.waitFor(
        "more frames from B after C left",
        ([id, n]) => window.stats().then((s) => s.inbound.some((r) => r.kind === "video" && r.streamId === id && r.framesDecoded > n)),
        [idB, before],
      );
    });
  });

  test("disconnect() is quick and reported as normal/1000", { timeout: T }, async (t) => {
    await clients(async (open) => {
      const channelId = randomChannel();
      const [a, b] = [await open("A"), await open("B")];
      const idA = await a.start({ role: "sendrecv", channelId });
      const idB = await b.start({ role: "sendrecv", channelId });
      await b.waitForVideoFrom(idA);
      await b.waitForNotify("connection.created", idB);

      const ms = await b.page.evaluate(() => window.disconnect());
      t.diagnostic(`disconnect() took ${ms.toFixed(0)} ms; connect() took ${(await b.page.evaluate(() => window.connectMs)).toFixed(0)} ms`);
      assert.ok(ms < 1000, `disconnect() took ${ms.toFixed(0)} ms (the SDK waits 3 s unless the server closes the WebSocket)`);
      const [ev] = await b.waitFor("disconnect event", () => window.events.disconnect.length > 0 && window.events.disconnect);
      assert.equal(ev.type, "normal");
      assert.equal(ev.code, 1000);
      await a.waitForNotify("connection.destroyed", idB);
    });
  });
});

// Installed before the demo page loads: records the JSON messages the page
// sends and receives on its WebSocket (pong stats reduced to a summary).
function spyOnWebSocket() {
  const log = { sent: [], received: [], closes: [] };
  window.__ws = log;
  const parse = (data) => {
    try {
      return JSON.parse(data);
    } catch {
      return { unparsable: String(data).slice(0, 100) };
    }
  };
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        const msg = parse(ev.data);
        log.received.push(msg.sdp ? { ...msg, sdp: "(sdp)" } : msg);
      });
      this.addEventListener("close", (ev) => log.closes.push({ code: ev.code, reason: ev.reason }));
    }
    send(data) {
      const msg = parse(data);
      if (Array.isArray(msg.stats)) {
        msg.stats = { count: msg.stats.length, types: [...new Set(msg.stats.map((r) => r.type))] };
      }
      log.sent.push(msg.sdp ? { ...msg, sdp: "(sdp)" } : msg);
      return super.send(data);
    }
  };
}

describe("demo page", () => {
  test("two tabs with ?autojoin=1 show each other's video", { timeout: T }, async (t) => {
    await withClients(env.browser, null, async (open) => {
      const channelId = randomChannel("demo");
      const url = new URL(HTTP_URL);
      url.searchParams.set("channel", channelId);
      url.searchParams.set("autojoin", "1");
      const a = await open("demo A", url.href, { initScript: spyOnWebSocket });
      const b = await open("demo B", url.href, { initScript: spyOnWebSocket });

      const selfId = (c) =>
        c.waitFor("own connection id shown", () => {
          const t = document.querySelector("#self-id")?.textContent.trim();
          return /^[0-9A-Z]{26}$/.test(t ?? "") ? t : false;
        });
      const idA = await selfId(a);
      const idB = await selfId(b);
      assert.notEqual(idA, idB);

      for (const [self, other] of [[a, idB], [b, idA]]) {
        await self.waitFor(
          `a playing remote video of ${other}`,
          (id) => {
            const v = document.querySelector(`#remotes video[data-connection-id="${id}"]`);
            return !!v && v.videoWidth > 0 && !v.paused && v.readyState >= 2;
          },
          other,
        );
        const { count, caption, channel } = await self.page.evaluate((id) => {
          const v = document.querySelector(`#remotes video[data-connection-id="${id}"]`);
          return {
            count: document.querySelectorAll("#remotes video").length,
            caption: v.closest("figure")?.textContent ?? "",
            channel: document.querySelector("#channel").value,
          };
        }, other);
        assert.equal(count, 1, `${self.name} shows exactly one remote video`);
        assert.ok(caption.includes(other), `${self.name}: caption "${caption}" names ${other}`);
        assert.equal(channel, channelId);
      }

      // What the page said on the wire.
      const sentA = await a.page.evaluate(() => window.__ws.sent);
      assert.deepEqual(sentA[0], {
        type: "connect",
        role: "sendrecv",
        channel_id: channelId,
        audio: true,
        video: true,
        sora_client: "gosfu demo",
      });
      assert.equal(sentA[1]?.type, "answer", "the answer follows connect");
      const candidate = sentA.find((m) => m.type === "candidate");
      assert.ok(candidate && typeof candidate.candidate === "string" && "sdpMid" in candidate, "trickled a candidate");
      // A got a re-offer when B's tracks arrived and answered each one.
      const received = await a.page.evaluate(() => window.__ws.received.map((m) => m.type));
      const reOffers = received.filter((x) => x === "re-offer").length;
      assert.ok(reOffers >= 1, "A got a re-offer");
      await a.waitFor(
        "a re-answer for every re-offer",
        (n) => window.__ws.sent.filter((m) => m.type === "re-answer").length === n,
        reOffers,
      );

      // The server pings every 5 s; a ping with stats gets a pong with the stats report.
      const pong = await a.waitFor(
        "a pong after a ping",
        () => {
          const ping = window.__ws.received.find((m) => m.type === "ping");
          const pong = window.__ws.sent.find((m) => m.type === "pong");
          return ping && pong ? { ping, pong } : false;
        },
        null,
        15_000,
      );
      if (pong.ping.stats) {
        assert.ok(pong.pong.stats?.count > 0, "pong carries stats");
        assert.ok(pong.pong.stats.types.includes("inbound-rtp"), "pong stats include inbound-rtp");
      }
      const types = await a.page.evaluate(() => window.__ws.received.map((m) => m.type));
      t.diagnostic(`demo A received: ${[...new Set(types)].join(", ")} (${reOffers} re-offer(s) before B was seen)`);

      // Leave: disconnect message, the server closes with 1000, B's tile goes away on A.
      await b.page.click("#leave");
      await b.waitFor("the WebSocket to close", () => window.__ws.closes.length > 0);
      const b2 = await b.page.evaluate(() => ({
        last: window.__ws.sent.at(-1),
        close: window.__ws.closes[0],
        remotes: document.querySelectorAll("#remotes video").length,
        join: document.querySelector("#join").disabled,
      }));
      assert.deepEqual(b2.last, { type: "disconnect", reason: "NO-ERROR" });
      assert.equal(b2.close.code, 1000);
      assert.equal(b2.remotes, 0, "B cleared its remote videos");
      assert.equal(b2.join, false, "Join is enabled again");
      await a.waitFor(
        "B's tile removed after Leave",
        (id) => !document.querySelector(`#remotes video[data-connection-id="${id}"]`),
        idB,
      );
    });
  });
});
