// Browser tests of simulcast: a sora-js-sdk sendonly publisher sends
// r0/r1/r2; recvonly clients each decode the layer they asked for, and
// the management API switches, pauses and resumes what one receiver gets.
//
// Env: as sfu.test.mjs, plus SFU_API_URL (default http://127.0.0.1:3000/).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, randomChannel, useBrowser, withClients } from "../lib/harness.mjs";

const T = 90_000;

const env = useBrowser(T);


const capture = { audio: false, video: { width: { exact: 960 }, height: { exact: 540 } } };

/** The sender's outbound width per rid, once all three layers are encoding. */
function senderWidths(sender) {
  return sender.waitFor("three simulcast layers encoding", async () => {
    const s = await window.stats();
    const out = s.outbound.filter((o) => o.kind === "video" && o.rid && o.frameWidth > 0 && o.framesEncoded > 0);
    if (out.length < 3) return false;
    return Object.fromEntries(out.map((o) => [o.rid, { width: o.frameWidth, mode: o.scalabilityMode }]));
  }, null, 40_000);
}

/** Waits until the receiver decodes video from streamId at the given width. */
function waitWidth(client, streamId, width, timeout = 30_000) {
  return client.waitFor(`video ${width} px wide from ${streamId}`, async ([id, w]) => {
    const s = await window.stats();
    const v = s.inbound.find((r) => r.kind === "video" && r.streamId === id && r.framesDecoded > 0);
    return v && v.frameWidth === w ? v : false;
  }, [streamId, width], timeout);
}

async function framesDecoded(client, streamId) {
  const s = await client.stats();
  return s.inbound.find((r) => r.kind === "video" && r.streamId === streamId)?.framesDecoded ?? 0;
}

describe("simulcast", () => {
  test("receivers decode the layer they ask for; RequestRtpStream and Pause/Resume change it", { timeout: T }, async () => {
    await withClients(env.browser, env.sdkPage, async (open) => {
      const channelId = randomChannel("simulcast");
      const sender = await open("sender");
      const idS = await sender.start({
        role: "sendonly", channelId, media: capture,
        options: { audio: false, videoCodecType: "VP8", videoBitRate: 1500, simulcast: true },
      });
      const widths = await senderWidths(sender);
      for (const rid of ["r0", "r1", "r2"]) {
        assert.equal(widths[rid].mode, "L1T1", `${rid} scalabilityMode`);
      }
      assert.ok(widths.r0.width < widths.r1.width && widths.r1.width < widths.r2.width, JSON.stringify(widths));

      const receivers = {};
      for (const rid of ["r0", "r1", "r2"]) {
        const r = await open(`recv-${rid}`);
        await r.start({ role: "recvonly", channelId, options: { simulcast: true, simulcastRid: rid } });
        receivers[rid] = r;
      }
      for (const rid of ["r0", "r1", "r2"]) {
        await waitWidth(receivers[rid], idS, widths[rid].width);
      }

      // RequestRtpStream moves the r0 receiver to r2.
      const recv = receivers.r0;
      await api("Sora_20201005.RequestRtpStream", {
        channel_id: channelId, recv_connection_id: recv.connectionId, send_connection_id: idS, rid: "r2",
      });
      await waitWidth(recv, idS, widths.r2.width);

      // PauseRtpStream: its frame count stops growing, the others' does not.
      await api("Sora_20200401.PauseRtpStream", {
        channel_id: channelId, recv_connection_id: recv.connectionId, send_connection_id: idS,
      });
      const listed = await api("Sora_20200401.ListPauseRtpStreams", { channel_id: channelId });
      assert.deepEqual(listed, [{ channel_id: channelId, recv_connection_id: recv.connectionId, role: "recvonly", send_connection_id: idS }]);
      await new Promise((r) => setTimeout(r, 1000)); // frames in flight drain
      const paused = await framesDecoded(recv, idS);
      const other = await framesDecoded(receivers.r1, idS);
      await new Promise((r) => setTimeout(r, 2000)); // a window in which nothing may arrive
      assert.equal(await framesDecoded(recv, idS), paused, "frames decoded while paused");
      assert.ok((await framesDecoded(receivers.r1, idS)) > other, "the other receiver kept decoding");

      await api("Sora_20200401.ResumeRtpStream", {
        channel_id: channelId, recv_connection_id: recv.connectionId, send_connection_id: idS,
      });
      await recv.waitFor("frames decoded again after resume", async ([id, n]) => {
        const s = await window.stats();
        return (s.inbound.find((r) => r.kind === "video" && r.streamId === id)?.framesDecoded ?? 0) > n + 10;
      }, [idS, paused], 10_000);
    });
  });
});
