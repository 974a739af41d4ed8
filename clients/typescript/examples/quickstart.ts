/**
 * Register a member, submit a packet, and read its story from the Flight Recorder.
 *   PHOENIX_ENDPOINT=127.0.0.1:7400 npm run quickstart
 */
import { PhoenixClient } from "../src/index.js";

const pf = new PhoenixClient();
const suffix = Date.now().toString(36);
const { member } = await pf.registerMember(`ts-agent-${suffix}`, ["ocr@2"], { trustScore: 0.9 });
console.log(`registered ${member.memberId} (incarnation ${member.incarnation})`);
const packet = await pf.submitPacket({
  packetId: `ts-fp-${suffix}`,
  requiredCapabilities: ["ocr@2"],
  state: { case_id: "CUST-88291" },
  step: "start",
});
console.log(`submitted ${packet.packetId}: owner ${packet.currentOwner}, epoch ${packet.epoch}`);
const events = await pf.recorder.queryEvents({ packetId: packet.packetId });
for (const event of events.events) console.log(`${event.sequence} ${event.type} ${event.reason}`);
console.log(`chain ok: ${(await pf.verifyChain()).ok}`);
// Leave nothing behind: this member will not heartbeat.
await pf.packets.cancelPacket({ packetId: packet.packetId, reason: "example done" });
await pf.members.retireMember({ memberId: member.memberId, reason: "example done" });
