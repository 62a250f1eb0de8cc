/**
 * Every message reader of protocol/wire/messages.ts refuses an envelope of another type as
 * `wrong-type`, naming its sender, before it reads a field: a reader is safe to call on any
 * opened envelope, whatever the caller dispatched on. (Each reader's type check, removed alone,
 * is caught here and by nothing else: callers dispatch on the type first.)
 *
 * @module
 */
import { assertEquals, assertThrows } from "../../_assert.ts";
import { ProtocolError } from "../../../protocol/errors.ts";
import { type Envelope, type MessageType, openFrame } from "../../../protocol/wire/frame.ts";
import {
  readAdvertiseKeys,
  readApproval,
  readCertificate,
  readConsistencyRequest,
  readCosign,
  readKeyList,
  readLeave,
  readMaskedInput,
  readOutcome,
  readOutcomeRequest,
  readShareDelivery,
  readShareKeys,
  readUnmask,
  readUnmaskRequest,
} from "../../../protocol/wire/messages.ts";
import type { Roster } from "../../../protocol/federation/roster.ts";
import { federation } from "../_fixtures.ts";
import { startedNet } from "../_harness.ts";

/**
 * The messages a normal round sends (Outcome and OutcomeRequest only follow restarts, Leave only
 * view changes).
 */
type RoundMessageType = Exclude<MessageType, "outcome" | "outcomeRequest" | "leave">;

const READERS: Record<RoundMessageType, (env: Envelope, roster: Roster) => unknown> = {
  advertiseKeys: readAdvertiseKeys,
  keyList: readKeyList,
  shareKeys: readShareKeys,
  shareDelivery: (env, roster) => readShareDelivery(env, roster, 0),
  maskedInput: readMaskedInput,
  consistencyRequest: readConsistencyRequest,
  approval: (env) => readApproval(env),
  unmaskRequest: readUnmaskRequest,
  unmask: readUnmask,
  certificate: readCertificate,
  cosign: (env) => readCosign(env),
};

Deno.test("readers: each message reader refuses every other type as wrong-type", async () => {
  const fed = await federation({ n: 4, dim: 4, seed: "readers" });
  const { roster } = fed;
  const net = await startedNet(fed, 0);
  const envelopes = new Map<RoundMessageType, Envelope>();
  for (const w of net.emitted) {
    const type = w.type as RoundMessageType;
    if (!envelopes.has(type)) envelopes.set(type, openFrame(w.frame, roster));
  }
  assertEquals(envelopes.size, Object.keys(READERS).length, "a round sends every type");
  for (
    const [type, read] of Object.entries(READERS) as [RoundMessageType, typeof READERS.cosign][]
  ) {
    // Its own type reads.
    const own = envelopes.get(type)!;
    read(own, roster);
    for (const [other, env] of envelopes) {
      if (other === type) continue;
      const e = assertThrows(() => read(env, roster), ProtocolError) as ProtocolError;
      assertEquals([e.code, e.peer], ["wrong-type", env.sender], `${type} reading ${other}`);
    }
  }
  // The restart and view-change messages' readers refuse every round message too.
  const restartReaders = {
    outcome: readOutcome,
    outcomeRequest: readOutcomeRequest,
    leave: (env: Envelope) => readLeave(env, roster.members.length),
  };
  for (const [type, read] of Object.entries(restartReaders)) {
    for (const [other, env] of envelopes) {
      const e = assertThrows(() => read(env), ProtocolError) as ProtocolError;
      assertEquals([e.code, e.peer], ["wrong-type", env.sender], `${type} reading ${other}`);
    }
  }
});
