// Browser test of downlink feedback: Chromium as a sora-js-sdk recvonly
// subscriber negotiates transport-cc with the server and sends it
// transport-cc feedback for the packets it receives, while it keeps
// decoding.
//
// Env: as sfu.test.mjs, plus SFU_API_URL (default http://127.0.0.1:3000/),
// where GET /metrics is served.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { API_URL, randomChannel, useBrowser, withClients } from "../lib/harness.mjs";

const T = 60_000;

const env = useBrowser(T);

/** The server's count of transport-cc feedback packets from subscribers. */
async function transportCCs() {
  const text = await (await fetch(new URL("metrics", API_URL))).text();
  const line = text.split("\n").find((l) => l.includes("rtcp_feedback_received_total") && l.includes('type="transport-cc"'));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe("downlink", () => {
  test("a recvonly browser sends transport-cc feedback and keeps decoding", { timeout: T }, async () => {
    await withClients(env.browser, env.sdkPage, async (open) => {
      const channelId = randomChannel("downlink");
      const sender = await open("sender");
      const idS = await sender.start({ role: "sendonly", channelId, options: { audio: false, videoCodecType: "VP8" } });
      const before = await transportCCs();
      const recv = await open("recv");
      await recv.start({ role: "recvonly", channelId, options: {} });
      const decoded = await recv.waitFor("video decoded", async (id) => {
        const s = await window.stats();
        const v = s.inbound.find((r) => r.kind === "video" && r.streamId === id && r.framesDecoded > 0);
        return v ? v.framesDecoded : false;
      }, idS, 30_000);
      const deadline = Date.now() + 20_000;
      let after = await transportCCs();
      while (after < before + 10 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        after = await transportCCs();
      }
      assert.ok(after >= before + 10, `transport-cc feedbacks: ${before} before the subscriber, ${after} after`);
      await recv.waitFor("more frames decoded", async ([id, n]) => {
        const s = await window.stats();
        return (s.inbound.find((r) => r.kind === "video" && r.streamId === id)?.framesDecoded ?? 0) > n + 30;
      }, [idS, decoded], 20_000);
    });
  });
});
