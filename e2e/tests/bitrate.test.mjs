// Browser test of ChangeUpstreamVideoBitRate: a sora-js-sdk sendonly
// client at videoBitRate 2000 with a 1280x720 capture sends well above
// 400 kbps; capped at 150 kbps by the API (REMB), its measured video bit
// rate falls to 200 kbps or less within 15 s and stays there.
//
// Env: as sfu.test.mjs, plus SFU_API_URL (default http://127.0.0.1:3000/).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, randomChannel, useBrowser, withClients } from "../lib/harness.mjs";

const T = 120_000;

const env = useBrowser(T);

const capture = { audio: false, video: { width: { exact: 1280 }, height: { exact: 720 } } };

/** The sender's video bit rate in kbps over the next two seconds (bytesSent). */
async function videoKbps(sender) {
  const bytes = async () => (await sender.stats()).outbound.filter((o) => o.kind === "video").reduce((n, o) => n + o.bytesSent, 0);
  const b0 = await bytes();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 2000));
  const b1 = await bytes();
  return ((b1 - b0) * 8) / (performance.now() - t0); // bits per ms = kbps
}

describe("upstream bit rate", () => {
  test("ChangeUpstreamVideoBitRate 150 brings a 2000 kbps sender to 200 kbps or less and keeps it there", { timeout: T }, async (t) => {
    await withClients(env.browser, env.sdkPage, async (open) => {
      const channelId = randomChannel("bitrate");
      const sender = await open("sender");
      const id = await sender.start({
        role: "sendonly", channelId, media: capture,
        options: { audio: false, videoCodecType: "VP8", videoBitRate: 2000 },
      });

      let before = 0;
      for (let i = 0; i < 15 && before <= 400; i++) before = await videoKbps(sender);
      assert.ok(before > 400, `uncapped sender sends ${before.toFixed(0)} kbps, want > 400`);

      const echo = await api("Sora_20190327.ChangeUpstreamVideoBitRate", { channel_id: channelId, connection_id: id, bit_rate: 150 });
      assert.deepEqual(echo, { channel_id: channelId, connection_id: id, bit_rate: 150 });

      const deadline = performance.now() + 15_000;
      let capped = Infinity;
      while (capped > 200 && performance.now() < deadline) capped = await videoKbps(sender);
      assert.ok(capped <= 200, `capped sender still sends ${capped.toFixed(0)} kbps after 15 s (was ${before.toFixed(0)})`);
      const later = [];
      for (let i = 0; i < 3; i++) later.push(await videoKbps(sender));
      t.diagnostic(`video kbps: uncapped ${before.toFixed(0)}, capped ${capped.toFixed(0)}, then ${later.map((k) => k.toFixed(0)).join(", ")}`);
      assert.ok(later.every((k) => k <= 200), `capped sender went back above 200 kbps: ${later.map((k) => k.toFixed(0))}`);
    });
  });
});
