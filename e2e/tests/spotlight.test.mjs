// Browser test of spotlight: three sora-js-sdk sendonly spotlight senders
// (simulcast chosen by the server) and one recvonly spotlight receiver
// with spotlight_number 1. The management API pins one sender: the
// receiver is told so, decodes it wider than the others, and hears only
// it; unpinning it is announced too.
//
// Env: as sfu.test.mjs, plus SFU_API_URL (default http://127.0.0.1:3000/).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, randomChannel, useBrowser, withClients } from "../lib/harness.mjs";

const T = 120_000;

const env = useBrowser(T);

const capture = { audio: true, video: { width: { exact: 640 }, height: { exact: 360 } } };

/** The receiver's inbound entries of one kind, by sender (stream id). */
async function inboundBy(client, kind) {
  const s = await client.stats();
  return Object.fromEntries(s.inbound.filter((r) => r.kind === kind && r.streamId).map((r) => [r.streamId, r]));
}

describe("spotlight", () => {
  test("FocusSpotlightFixed: focused notify, wider video and the only audio; UnfocusSpotlight: unfocused notify", { timeout: T }, async () => {
    await withClients(env.browser, env.sdkPage, async (open) => {
      const channelId = randomChannel("spotlight");
      const ids = [];
      for (const name of ["s1", "s2", "s3"]) {
        const s = await open(name);
        ids.push(await s.start({
          role: "sendonly", channelId, media: capture,
          options: { videoCodecType: "VP8", videoBitRate: 800, spotlight: true, spotlightNumber: 1 },
        }));
      }
      const recv = await open("recv");
      await recv.start({ role: "recvonly", channelId, options: { spotlight: true, spotlightNumber: 1 } });
      for (const id of ids) await recv.waitForVideoFrom(id, 30_000);

      const [pinned, ...others] = ids;
      const echo = await api("Sora_20200807.FocusSpotlightFixed", { channel_id: channelId, connection_id: pinned });
      assert.deepEqual(echo, { channel_id: channelId, connection_id: pinned });
      const focused = await recv.waitForNotify("spotlight.focused", pinned, 10_000);
      assert.equal(focused.fixed, true, JSON.stringify(focused));
      assert.equal(focused.audio, true);
      assert.equal(focused.video, true);

      // The pinned sender at the focus rid (r1), the others at r0.
      const widths = await recv.waitFor("the pinned sender decoded wider than the others", async ([p, o]) => {
        const s = await window.stats();
        const w = (id) => s.inbound.find((r) => r.kind === "video" && r.streamId === id && r.framesDecoded > 0)?.frameWidth ?? 0;
        const got = { pinned: w(p), others: o.map(w) };
        return got.pinned > 0 && got.others.every((x) => x > 0 && x < got.pinned) ? got : false;
      }, [pinned, others], 30_000);
      assert.ok(widths.pinned >= 2 * Math.max(...widths.others), JSON.stringify(widths));

      // Audio: the pinned sender's grows, the others' stands still.
      await recv.waitForAudioFrom(pinned, 10_000);
      await new Promise((r) => setTimeout(r, 1000)); // packets in flight land
      const before = await inboundBy(recv, "audio");
      await new Promise((r) => setTimeout(r, 2000));
      const after = await inboundBy(recv, "audio");
      assert.ok(after[pinned].packetsReceived > before[pinned].packetsReceived + 20, "the pinned sender's audio flows");
      for (const id of others) {
        assert.equal(after[id]?.packetsReceived ?? 0, before[id]?.packetsReceived ?? 0, `audio from unfocused ${id}`);
      }

      await api("Sora_20200807.UnfocusSpotlight", { channel_id: channelId, connection_id: pinned });
      const unfocused = await recv.waitForNotify("spotlight.unfocused", pinned, 10_000);
      assert.equal(unfocused.connection_id, pinned);
    });
  });
});
