/**
 * Fixtures shared by the wire tests: a classical (n = 7) and a post-quantum (n = 4) federation,
 * a session with every member's adverts and approvals, share entries with every attachment their
 * direction has, and the largest message of each type a roster allows.
 *
 * @module
 */
import type { Value } from "../../../protocol/encoding/codec.ts";
import type { Rng } from "../../../protocol/crypto/mod.ts";
import {
  type AdvertiseKeys,
  advertiseKeysFields,
  approvalFields,
  certificateFields,
  consistencyRequestFields,
  cosignFields,
  leaveFields,
  maskedInputFields,
  outcomeFields,
  outcomeRequestFields,
  shareDeliveryFields,
  shareKeysFields,
  unmaskFields,
  unmaskRequestFields,
} from "../../../protocol/wire/messages.ts";
import {
  entryLengths,
  SEALED_SHARES_LENGTH,
  SHARE_LENGTH,
  type ShareEntry,
} from "../../../protocol/wire/share_entry.ts";
import { maxPathLength, SHARE_NODE_LENGTH } from "../../../protocol/wire/share_tree.ts";
import { type MessageType, openFrame, sealFrame, TAG } from "../../../protocol/wire/frame.ts";
import { encodeFinalCertificate } from "../../../protocol/certificate/final.ts";
import type { Roster } from "../../../protocol/federation/roster.ts";
import { RoundKeys } from "../../../protocol/round/keys.ts";
import {
  MAX_ROUND,
  type Session,
  sessionHash,
  sessionOf,
} from "../../../protocol/federation/session.ts";
import { all, type Federation, federation, rngFor } from "../_fixtures.ts";

/** Every message type. */
export const TYPES = Object.keys(TAG) as MessageType[];

/** Everything needed to build messages of every type for one session. */
export interface Fixture {
  readonly fed: Federation;
  readonly roster: Roster;
  readonly session: Session;
  readonly adverts: AdvertiseKeys[];
  readonly advertFrames: Uint8Array[];
  readonly approvalFrames: Uint8Array[];
  /** The largest final certificate: the largest certificate and every member's co-signature. */
  readonly finalCertificate: Uint8Array;
  readonly rng: Rng;
}

/** A fixture for a session of `fed` (by default the highest round and view). */
export async function fixture(fed: Federation, round = MAX_ROUND - 1, view = MAX_ROUND - 1) {
  const { roster, signers } = fed;
  const session = sessionOf(roster, round, view);
  const hash = sessionHash(session);
  const rng = rngFor("messages", roster.mode, roster.members.length);
  const adverts: AdvertiseKeys[] = [];
  const advertFrames: Uint8Array[] = [];
  const approvalFrames: Uint8Array[] = [];
  for (const [i, signer] of signers.entries()) {
    const keys = await RoundKeys.generate(roster.mode, hash, i, rng);
    adverts.push(keys.advertise);
    advertFrames.push(
      await sealFrame(
        "advertiseKeys",
        session,
        i,
        advertiseKeysFields(keys.advertise),
        signer,
        roster.mode,
      ),
    );
    approvalFrames.push(
      await sealFrame(
        "approval",
        session,
        i,
        approvalFields({ u2Hash: rng(32), u3Hash: rng(32) }),
        signer,
        roster.mode,
      ),
    );
  }
  const n = roster.members.length;
  const all = [...Array(n).keys()];
  const certificate = await sealFrame(
    "certificate",
    session,
    0,
    certificateFields({
      u2Hash: rng(32),
      u3: all,
      approvals: approvalFrames,
      aggregateHash: rng(32),
      totalWeight: 2 ** 32 - 1,
    }, roster),
    signers[0],
    roster.mode,
  );
  const cosigns = await Promise.all(
    signers.map((signer, i) =>
      sealFrame(
        "cosign",
        session,
        i,
        cosignFields({ certificateHash: rng(32) }),
        signer,
        roster.mode,
      )
    ),
  );
  const finalCertificate = encodeFinalCertificate(openFrame(certificate, roster), cosigns);
  return {
    fed,
    roster,
    session,
    adverts,
    advertFrames,
    approvalFrames,
    finalCertificate,
    rng,
  } satisfies Fixture;
}

/**
 * A share entry between `sender` and `recipient` with every attachment its direction has
 * (post-quantum: a path as long as the roster allows, the highest leaf index it allows, and a
 * random root signature).
 */
export function entry(
  f: Fixture,
  sender: number,
  recipient: number,
  peer: number,
  wrap: boolean,
): ShareEntry {
  const len = entryLengths(f.roster.mode, sender, recipient);
  const pq = f.roster.mode === "post-quantum";
  const height = pq ? maxPathLength(f.roster.members.length) : 0;
  return {
    peer,
    sealed: f.rng(SEALED_SHARES_LENGTH),
    shareKemCt: f.rng(len.shareKemCt),
    maskKemCt: f.rng(len.maskKemCt),
    wrap: wrap ? f.rng(len.wrap) : new Uint8Array(0),
    leaf: 2 ** height - 1,
    path: Array.from({ length: height }, () => f.rng(SHARE_NODE_LENGTH)),
    signature: f.rng(len.signature),
  };
}

/**
 * The sender, fields and body of the largest message of `type` the roster allows: every list
 * as long as it can be, every optional attachment present, the highest indices.
 */
export function largest(
  f: Fixture,
  type: MessageType,
): { sender: number; fields: Value[]; body?: Uint8Array } {
  const { roster } = f;
  const n = roster.members.length;
  const last = n - 1;
  const vector = f.rng(4 * (roster.dim + 1));
  switch (type) {
    case "advertiseKeys":
      return { sender: last, fields: advertiseKeysFields(f.adverts[last]) };
    case "keyList":
      return { sender: last, fields: [f.advertFrames] };
    case "shareKeys":
      // Member 0 encapsulates to every other member: all attachments present.
      return {
        sender: 0,
        fields: shareKeysFields(
          {
            entries: all(f).slice(1).map((r) => entry(f, 0, r, r, true)),
            signature: f.rng(entryLengths(roster.mode, 0, 1).signature),
          },
          roster.mode,
        ),
      };
    case "shareDelivery":
      // The last member receives a ciphertext from every lower member.
      return {
        sender: 0,
        fields: shareDeliveryFields({
          u2: all(f),
          entries: all(f).slice(0, last).map((s) => entry(f, s, last, s, false)),
        }, roster),
      };
    case "maskedInput":
      return {
        sender: last,
        fields: maskedInputFields({ u2Hash: f.rng(32), vectorHash: f.rng(32) }),
        body: vector,
      };
    case "consistencyRequest":
      return { sender: 0, fields: consistencyRequestFields({ u2: all(f), u3: all(f) }, roster) };
    case "approval":
      return { sender: last, fields: approvalFields({ u2Hash: f.rng(32), u3Hash: f.rng(32) }) };
    case "unmaskRequest":
      return {
        sender: 0,
        fields: unmaskRequestFields({
          alive: all(f).slice(0, n - 1),
          dropped: [last],
          approvals: f.approvalFrames,
        }, f.roster),
      };
    case "unmask":
      return {
        sender: last,
        fields: unmaskFields({
          selfShares: all(f).slice(0, n - 1).map((o) => [o, f.rng(SHARE_LENGTH)] as const),
          maskShares: [[last, f.rng(SHARE_LENGTH)]],
        }),
      };
    case "certificate":
      return {
        sender: 0,
        fields: certificateFields({
          u2Hash: f.rng(32),
          u3: all(f),
          approvals: f.approvalFrames,
          aggregateHash: f.rng(32),
          totalWeight: 2 ** 32 - 1,
        }, f.roster),
        body: vector,
      };
    case "cosign":
      return { sender: last, fields: cosignFields({ certificateHash: f.rng(32) }) };
    case "outcome":
      return {
        sender: last,
        fields: outcomeFields({ finalCertificate: f.finalCertificate }),
        body: vector,
      };
    case "outcomeRequest":
      return { sender: last, fields: outcomeRequestFields() };
    case "leave":
      return { sender: last, fields: leaveFields(0) };
  }
}

/** The largest message of `type` (see {@link largest}), sealed by its sender. */
export async function seal(f: Fixture, type: MessageType) {
  const { sender, fields, body } = largest(f, type);
  const frame = await sealFrame(
    type,
    f.session,
    sender,
    fields,
    f.fed.signers[sender],
    f.roster.mode,
    body,
  );
  return { sender, fields, body, frame };
}

/** A classical federation, n = 7, with the longest federation name. */
export const classical = federation({ n: 7, dim: 33, federation: "f".repeat(64) });
/** A post-quantum federation, n = 4. */
export const postQuantum = federation({ n: 4, dim: 17, mode: "post-quantum" });
