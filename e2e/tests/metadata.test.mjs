// Browser tests of the signaling-notify metadata extension: sora-js-sdk
// clients see metadata in their notifies and receive the push that a
// management API change with push: true sends.
//
// Env: as sfu.test.mjs, plus SFU_API_URL (default http://127.0.0.1:3000/).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, randomChannel, useBrowser, withClients } from "../lib/harness.mjs";

const T = 60_000;

const env = useBrowser(T);


describe("signaling notify metadata", () => {
  test("a push after PutSignalingNotifyMetadataItem, and metadata in a later joiner's data", { timeout: T }, async () => {
    await withClients(env.browser, env.sdkPage, async (open) => {
      const channelId = randomChannel("meta");
      const a = await open("A");
      const idA = await a.start({
        role: "recvonly", channelId, options: { signalingNotifyMetadata: { name: "alice" } },
      });
      await a.waitForNotify("connection.created", idA);

      const answer = await api("Sora_20201124.PutSignalingNotifyMetadataItem", {
        channel_id: channelId, connection_id: idA, key: "hand", value: "raised", push: true,
      });
      assert.deepEqual(answer, { name: "alice", hand: "raised" });
      const push = await a.waitFor("the metadata push", () => window.events.push[0] || false);
      assert.deepEqual(push.data, {
        type: "signaling_notify_metadata_ext", action: "PutMetadataItem",
        connection_id: idA, key: "hand", value: "raised",
      });
      assert.equal(push.transport, "websocket");

      const b = await open("B");
      const idB = await b.start({ role: "recvonly", channelId });
      const own = await b.waitForNotify("connection.created", idB);
      assert.deepEqual(own.data, [{ connection_id: idA, client_id: idA, metadata: { name: "alice", hand: "raised" } }]);
    });
  });
});
