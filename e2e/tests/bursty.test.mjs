// A publisher that sends each frame's packets back to back (e2e/gopub, in
// Go, splitting frames the way libwebrtc does) and a subscriber in
// Chromium. The server holds each frame in its send batch, pads the
// frame's one-byte-shorter packets so that they can leave as one UDP GSO
// message, and seals them with its own SRTP egress: Chromium must decode
// all of it.
//
// Env: GOPUB (the gopub binary; e2e/run.sh builds it), as well as the
// harness's.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { SIGNALING_URL, randomChannel, useBrowser, withClients } from "../lib/harness.mjs";

const T = 60_000; // per-test bound
const env = useBrowser(T);
const ivf = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../gopub/testdata/noise-256x192.ivf");

/** Starts gopub on channelId; resolves once it publishes, to { id, stop() }. */
function startGoPublisher(channelId) {
  assert.ok(process.env.GOPUB, "GOPUB (the e2e/gopub binary) is not set: run through e2e/run.sh");
  const proc = spawn(process.env.GOPUB, ["-url", SIGNALING_URL, "-channel", channelId, "-ivf", ivf], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  // Closing its standard input is gopub's signal to leave.
  const stop = async () => {
    proc.stdin.end();
    await exited;
  };
  return new Promise((resolve, reject) => {
    exited.then((code) => reject(new Error(`gopub exited with status ${code} before publishing`)));
    readline.createInterface({ input: proc.stdout }).on("line", (line) => {
      const m = /^connected (\S+)$/.exec(line);
      if (m) resolve({ id: m[1], stop });
    });
  });
}

describe("bursty publisher", () => {
  test("Chromium decodes VP8 forwarded held, padded and sealed by the engine", { timeout: T }, async () => {
    const channelId = randomChannel("bursty");
    const pub = await startGoPublisher(channelId);
    try {
      await withClients(env.browser, env.sdkPage, async (open) => {
        const b = await open("B");
        await b.start({ role: "recvonly", channelId });
        await b.waitFor(
          "30 decoded frames from the Go publisher",
          (id) => window.stats().then((s) => s.inbound.some((r) => r.kind === "video" && r.streamId === id && r.framesDecoded >= 30)),
          pub.id,
        );
        const v = (await b.stats()).inbound.find((r) => r.kind === "video" && r.streamId === pub.id);
        console.log(`gopub video: ${JSON.stringify(v)}`);
        assert.equal(v.codec, "video/VP8");
        assert.equal(v.frameWidth, 256);
        // The server forwards no header extensions, so its headers are 12
        // bytes; what Chromium counts above that is RTP padding.
        assert.ok(
          v.headerBytesReceived > 12 * v.packetsReceived,
          `${v.headerBytesReceived} header and padding bytes in ${v.packetsReceived} packets: no padding arrived`,
        );
      });
    } finally {
      await pub.stop();
    }
  });
});
