// Cluster: two gosfu nodes with embedded NATS (started by e2e/run.sh). A
// channel lives on one node; sora-js-sdk pointed at the other node gets
// Sora's redirect, follows it and receives the media.
//
// Env: SFU_CLUSTER_SIGNALING_URLS and SFU_CLUSTER_API_URLS, two each,
// comma-separated, node 1 first.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomChannel, useBrowser, withClients } from "../lib/harness.mjs";

const T = 60_000;
const SIGNALING = (process.env.SFU_CLUSTER_SIGNALING_URLS ||
  "ws://127.0.0.1:5011/signaling,ws://127.0.0.1:5012/signaling").split(",");
const APIS = (process.env.SFU_CLUSTER_API_URLS || "http://127.0.0.1:3011/,http://127.0.0.1:3012/").split(",");

const env = useBrowser(T);

async function call(url, target, body = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "x-sora-target": target, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${target} on ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

describe("cluster", () => {
  test("sora-js-sdk at node 2 follows the redirect to node 1 and decodes its video", { timeout: T }, async () => {
    await withClients(env.browser, env.sdkPage, async (open) => {
      const channelId = randomChannel("cluster");
      const [a, b] = [await open("A"), await open("B")];
      const options = { videoCodecType: "VP8" };
      // A creates the channel on node 1, which claims it.
      const idA = await a.start({ role: "sendonly", channelId, options, signalingUrl: SIGNALING[0] });
      // B asks node 2, which redirects it to node 1.
      const idB = await b.start({ role: "recvonly", channelId, options, signalingUrl: SIGNALING[1] });
      await b.waitForVideoFrom(idA);

      // Node 2's API answers for the channel: the call is routed to node 1,
      // the owner, which has both connections.
      const conns = await call(APIS[1], "Sora_20201013.ListChannelConnections", { channel_id: channelId });
      assert.deepEqual(new Set(conns.map((c) => c.connection_id)), new Set([idA, idB]));
      const nodes = await call(APIS[0], "Sora_20211215.ListClusterNodes");
      assert.deepEqual(nodes.map((n) => n.node_name).sort(), ["e2e1", "e2e2"]);
      const byName = Object.fromEntries(nodes.map((n) => [n.node_name, n]));
      assert.equal(byName.e2e1.signaling_url, SIGNALING[0]);
    });
  });
});
