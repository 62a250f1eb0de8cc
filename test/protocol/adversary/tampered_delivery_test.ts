/**
 * Adversarial tests: share deliveries tampered by the leader that relays them (section 8). A
 * flipped bit in a sealed share pair or an X-Wing ciphertext must be refused as
 * `tampered-ciphertext` naming the leader; the victim sends no masked input and the round
 * completes without it. When the leader tampered every delivery, everyone changes view and the
 * round completes in view 1 with every member. A refused delivery leaves the member ready for
 * the genuine one.
 *
 * Post-quantum: a leader that breaks X25519 can forge a member's share entry that opens under the
 * victim's keys; only the sender's ML-DSA-65 signature on the root of its share tree, which the
 * entry's path must lead to, stops it. Every other signature, path or tree the leader can attach
 * (the genuine ones with a tampered path, a genuine entry moved to another recipient, a root
 * signed for another session, …) is refused the same way (`tampered-ciphertext`, naming the
 * leader, the refusal naming the sender), and the same forgery with the sender's own signature
 * of a tree holding it is accepted.
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import type { Value } from "../../../protocol/encoding/codec.ts";
import { X25519_LENGTH, xwingEncapsulate } from "../../../protocol/crypto/mod.ts";
import { openFrame } from "../../../protocol/wire/frame.ts";
import {
  readShareDelivery,
  readShareKeys,
  shareDeliveryFields,
} from "../../../protocol/wire/messages.ts";
import { SHARE_LENGTH, type ShareEntry } from "../../../protocol/wire/share_entry.ts";
import { shareLeaf, shareRootPayload, shareTree } from "../../../protocol/wire/share_tree.ts";
import { pairMaskKey } from "../../../protocol/round/keys.ts";
import { sessionHash } from "../../../protocol/federation/session.ts";
import { flipBit } from "../crypto/_helpers.ts";
import type { Federation } from "../_federation.ts";
import { all, labelledRng } from "../_fixtures.ts";
import { reseal, type Wire, wireOf } from "../_frames.ts";
import { refusalTriples, resealBy, scenario, SMALL } from "./_attacks.ts";

// =============================================================================================
// 8. Tampered share ciphertexts.

const TAMPER: { name: string; pq: boolean; field: 1 | 2 | 3 }[] = [
  { name: "sealed share pair, classical", pq: false, field: 1 },
  { name: "sealed share pair, post-quantum", pq: true, field: 1 },
  { name: "X-Wing share ciphertext", pq: true, field: 2 },
  { name: "X-Wing mask ciphertext (bound as associated data)", pq: true, field: 3 },
];

/** Flips a bit in field `field` of the first entry that has it, re-signed by the leader. */
function tamperDelivery(fed: Federation, L: number, w: Wire, field: number): Promise<Uint8Array> {
  return resealBy(fed, L, w.frame, ([u2, entries]) => {
    const list = (entries as Value[][]).map((e) => [...e]);
    const target = list.find((e) => (e[field] as Uint8Array).length > 0)!;
    target[field] = flipBit(target[field] as Uint8Array, 13);
    return [u2, list];
  });
}

for (const t of TAMPER) {
  Deno.test(
    `8. leader flips a bit in a ${t.name} → tampered-ciphertext; the victim sends no masked ` +
      `input and the round completes without it`,
    () =>
      scenario({ ...SMALL, pq: t.pq }, async (fed) => {
        const L = fed.leader(0);
        // Member n − 1 (or n − 2) receives entries from lower indices, which carry mask cts.
        const r = fed.others([L]).at(-1)!;
        fed.intercept = async (w) => {
          if (w.from === L && w.to === r && w.type === "shareDelivery") {
            return [wireOf(L, r, await tamperDelivery(fed, L, w, t.field))];
          }
        };
        await fed.submitAll(0);
        await fed.runToFinal(0);
        assertEquals(refusalTriples(fed), [[r, "tampered-ciphertext", L]]);
        assertEquals(fed.sent("maskedInput", r).length, 0);
        const final = await fed.assertExact(0, fed.n);
        assertEquals([...final.members], all(fed, [r]));
      }),
  );
}

Deno.test(
  "8. a leader tampering every delivery: all refuse, change view after their timeout, and " +
    "the round completes in view 1",
  () =>
    scenario(SMALL, async (fed) => {
      const L = fed.leader(0);
      fed.intercept = async (w) => {
        if (w.from === L && w.type === "shareDelivery" && w.session.view === 0) {
          return [wireOf(L, w.to, await tamperDelivery(fed, L, w, 1))];
        }
      };
      await fed.submitAll(0);
      await fed.deliver();
      for (const i of all(fed, [L])) {
        assertEquals(refusalTriples(fed, i), [[i, "tampered-ciphertext", L]]);
        assertEquals(fed.sent("maskedInput", i).length, 0);
        assertEquals(fed.endpoints[i].participant(0)!.view, 0);
      }
      await fed.runToFinal(0);
      for (const i of all(fed)) {
        assert(
          fed.eventsOf(i).some((e) => e.type === "view-change" && e.from === 0 && e.to === 1),
          `member ${i} moved to view 1`,
        );
      }
      const final = await fed.assertExact(0, fed.n);
      assertEquals(final.view, 1);
      assertEquals([...final.members], all(fed));
    }),
);

Deno.test(
  "a tampered share delivery is refused and leaves the member ready: it takes the genuine " +
    "delivery that follows",
  () =>
    scenario(SMALL, async (fed) => {
      const L = fed.leader(0);
      const x = fed.others([L])[0];
      let genuine: Wire | undefined;
      fed.intercept = async (w) => {
        if (w.from !== L || w.to !== x || w.type !== "shareDelivery" || genuine !== undefined) {
          return undefined;
        }
        genuine = w;
        // The last entry's sealed shares are corrupted; the entries before it open fine.
        const frame = await resealBy(fed, L, w.frame, ([u2, entries]) => [
          u2,
          (entries as Value[][]).map((e, i, all) =>
            i === all.length - 1 ? [e[0], flipBit(e[1] as Uint8Array, 3), e[2], e[3]] : e
          ),
        ]);
        return [wireOf(L, x, frame)];
      };
      await fed.submitAll(0);
      await fed.deliver();
      assertEquals(refusalTriples(fed, x), [[x, "tampered-ciphertext", L]]);
      assertEquals(fed.endpoints[x].participant(0)!.stage, "share");
      // The genuine delivery is accepted afterwards; the round completes with x.
      await fed.inject(x, genuine!.frame, L);
      await fed.runToFinal(0);
      const final = await fed.assertExact(0, fed.n);
      assert(final.members.includes(x));
    }),
);

// A leader with a quantum computer during a post-quantum round. It relays every share entry
// inside its own frame, and an entry's AEAD key authenticates the sender only through X25519, so
// once X25519 falls the leader can seal an entry as member u to member v with X-Wing ciphertexts
// of its own: it then knows the pair secret v decapsulates from u. For the highest-indexed member
// every neighbour has a lower index, so that would be every pair mask, and with its self-mask seed
// (revealed for U3) its input. Only u's ML-DSA-65 signature on the root of its share tree, which
// the entry's path must lead to, stops this.

/** What the forging leader made, for the attachments (leaf, path, root signature) it picks. */
interface Forgery {
  readonly fed: Federation;
  readonly hash: Uint8Array;
  readonly leader: number;
  readonly sender: number;
  readonly victim: number;
  /** The sender's genuine entry, as relayed. */
  readonly genuine: ShareEntry;
  /** The forged entry, before its attachments. */
  readonly forged: ShareEntry;
}

/** An entry's share-tree attachments. */
type Attachments = Pick<ShareEntry, "leaf" | "path" | "signature">;

/**
 * A copy of the leader's ShareDelivery `w` whose entry from `sender` is replaced by what `make`
 * returns, given the forgery above (by default the forged entry with the attachments `attach`
 * picks). Breaking X25519 is simulated by handing the leader the sender's ephemeral keys
 * (`sealShares` uses only its X25519 share secret). Asserts the forgery is sound but for its
 * attachments: it opens under the victim's keys, and the victim would derive the pair key the
 * leader knows.
 */
async function forgeEntry(
  fed: Federation,
  w: Wire,
  sender: number,
  make: (f: Forgery) => Promise<ShareEntry>,
): Promise<Uint8Array> {
  const { roster } = fed;
  const [leader, victim] = [w.from, w.to];
  const env = openFrame(w.frame, roster);
  const delivery = readShareDelivery(env, roster, victim);
  const hash = sessionHash(env.session);
  const genuine = delivery.entries.find((e) => e.peer === sender)!;
  const senderKeys = await fed.firstKeys(sender);
  const victimKeys = await fed.firstKeys(victim);
  try {
    const target = victimKeys.advertise;
    const rng = labelledRng("fedagg-adv", "quantum-leader", sender, victim);
    const shareKem = await xwingEncapsulate(target.shareKey.subarray(X25519_LENGTH), rng);
    const maskKem = await xwingEncapsulate(target.maskKey, rng);
    const chosen = new Uint8Array(2 * SHARE_LENGTH).fill(7);
    const forged: ShareEntry = {
      peer: sender,
      sealed: senderKeys.sealShares(victim, target.shareKey, chosen, maskKem.cipherText, shareKem),
      shareKemCt: shareKem.cipherText,
      maskKemCt: maskKem.cipherText,
      wrap: new Uint8Array(0),
      leaf: 0,
      path: [],
      signature: new Uint8Array(0),
    };
    const opened = await victimKeys.openShares(
      sender,
      senderKeys.advertise.shareKey,
      forged.sealed,
      forged.shareKemCt,
      forged.maskKemCt,
    );
    assertEquals(opened, chosen, "the forged entry authenticates under the broken X25519");
    const victimSecret = await victimKeys.decapsulatePairSecret(forged.maskKemCt);
    assertEquals(
      pairMaskKey(hash, victim, sender, victimSecret, forged.maskKemCt),
      pairMaskKey(hash, sender, victim, maskKem.sharedSecret, forged.maskKemCt),
      "the victim would take the leader's pair secret",
    );
    const replacement = await make({ fed, hash, leader, sender, victim, genuine, forged });
    const entries = delivery.entries.map((e) => (e.peer === sender ? replacement : e));
    return await reseal(w.frame, fed.signers[leader], roster.mode, {
      fields: () => shareDeliveryFields({ u2: delivery.u2, entries }, roster),
    });
  } finally {
    senderKeys.wipe();
    victimKeys.wipe();
  }
}

/**
 * The attachments of `entry` in a share tree of `by`'s signing, built as `sender`'s in the session
 * of `hash` with `entry` addressed to `recipient`, beside a decoy leaf (so the path is not empty).
 */
async function signedTree(
  fed: Federation,
  by: number,
  hash: Uint8Array,
  sender: number,
  recipient: number,
  entry: ShareEntry,
): Promise<Attachments> {
  const tree = shareTree([shareLeaf(hash, sender, recipient, entry), new Uint8Array(32).fill(1)]);
  const signature = await fed.signers[by].signPostQuantum(
    shareRootPayload(hash, sender, tree.root),
  );
  return { leaf: 0, path: tree.paths[0], signature };
}

/** The forged entry with `attach`'s attachments. */
const forgedWith = (attach: (f: Forgery) => Promise<Attachments>) => async (f: Forgery) => ({
  ...f.forged,
  ...await attach(f),
});

/** The sender's genuine ShareKeys in the view 0 of round 0, as it sent it. */
function sentShareKeys(fed: Federation, sender: number): readonly ShareEntry[] {
  const [w] = fed.sent("shareKeys", sender, 0);
  return readShareKeys(openFrame(w.frame, fed.roster), fed.roster).entries;
}

const QUANTUM_LEADER: { name: string; make: (f: Forgery) => Promise<ShareEntry> }[] = [
  {
    name: "the sender's genuine path and root signature",
    make: forgedWith(({ genuine: { leaf, path, signature } }) =>
      Promise.resolve({ leaf, path, signature })
    ),
  },
  {
    name: "the leader's own signature of a tree holding the forged entry",
    make: forgedWith((f) => signedTree(f.fed, f.leader, f.hash, f.sender, f.victim, f.forged)),
  },
  {
    name: "the leader's signature of a tree holding the forged entry as its own (another sender)",
    make: forgedWith((f) => signedTree(f.fed, f.leader, f.hash, f.leader, f.victim, f.forged)),
  },
  {
    name: "the sender's root signed for another session",
    make: forgedWith((f) => {
      const other = sessionHash(f.fed.session(0, 1));
      return signedTree(f.fed, f.sender, other, f.sender, f.victim, f.forged);
    }),
  },
  {
    name: "the sender's signature of a tree holding the forged entry to another recipient",
    make: forgedWith((f) => {
      const elsewhere = f.fed.others([f.sender, f.victim, f.leader])[0];
      return signedTree(f.fed, f.sender, f.hash, f.sender, elsewhere, f.forged);
    }),
  },
  {
    name: "the sender's signature of a tree holding its genuine mask ciphertext",
    make: forgedWith((f) =>
      signedTree(f.fed, f.sender, f.hash, f.sender, f.victim, {
        ...f.forged,
        maskKemCt: f.genuine.maskKemCt,
      })
    ),
  },
  {
    name: "a tampered path (the genuine entry, a bit flipped in its path)",
    make: (f) =>
      Promise.resolve({
        ...f.genuine,
        path: f.genuine.path.map((node, k) => (k === 0 ? flipBit(node, 5) : node)),
      }),
  },
  {
    name: "the genuine entry at another leaf index",
    make: (f) => Promise.resolve({ ...f.genuine, leaf: f.genuine.leaf ^ 1 }),
  },
  {
    name: "the sender's genuine entry to another recipient, moved to the victim",
    make: (f) => {
      const moved = sentShareKeys(f.fed, f.sender).find((e) =>
        e.peer !== f.victim && e.peer !== f.leader && e.maskKemCt.length > 0
      )!;
      return Promise.resolve({ ...moved, peer: f.sender, wrap: new Uint8Array(0) });
    },
  },
];

/** The victim (the highest index but the leader's) and a lower-indexed sender to impersonate. */
function quantumLeaderTargets(fed: Federation): { L: number; v: number; u: number } {
  const L = fed.leader(0);
  const v = fed.others([L]).at(-1)!;
  return { L, v, u: fed.others([L, v])[0] };
}

for (const c of QUANTUM_LEADER) {
  Deno.test(
    `8. post-quantum: a leader that breaks X25519 forges a member's share entry with ${c.name} ` +
      `→ the holder refuses it (tampered-ciphertext, naming the leader) and the round completes ` +
      `without the holder`,
    () =>
      scenario({ ...SMALL, pq: true }, async (fed) => {
        const { L, v, u } = quantumLeaderTargets(fed);
        let forged = 0;
        fed.intercept = async (w) => {
          if (w.from === L && w.to === v && w.type === "shareDelivery" && w.session.view === 0) {
            forged++;
            return [wireOf(L, v, await forgeEntry(fed, w, u, c.make))];
          }
        };
        await fed.submitAll(0);
        await fed.runToFinal(0);
        assertEquals(forged, 1);
        assertEquals(refusalTriples(fed), [[v, "tampered-ciphertext", L]]);
        const [refusal] = fed.refusals(v);
        assert(
          refusal.error.message.includes(`member ${u} lacks its valid signature`),
          refusal.error.message,
        );
        assertEquals(fed.sent("maskedInput", v).length, 0, "the victim masked nothing");
        const final = await fed.assertExact(0, fed.n);
        assertEquals([...final.members], all(fed, [v]));
      }),
  );
}

Deno.test(
  "8. post-quantum: the same forged share entry with the sender's own signature (ML-DSA broken " +
    "too, signing a tree that holds it) is accepted — the signature is what stops the quantum " +
    "leader",
  () =>
    scenario({ ...SMALL, pq: true }, async (fed) => {
      const { L, v, u } = quantumLeaderTargets(fed);
      fed.intercept = async (w) => {
        if (w.from === L && w.to === v && w.type === "shareDelivery" && w.session.view === 0) {
          const make = forgedWith((f) => signedTree(fed, u, f.hash, u, v, f.forged));
          return [wireOf(L, v, await forgeEntry(fed, w, u, make))];
        }
      };
      await fed.submitAll(0);
      await fed.deliver({ until: () => fed.sent("maskedInput", v).length > 0 });
      assertEquals(refusalTriples(fed, v), []);
      assertEquals(
        fed.sent("maskedInput", v).length,
        1,
        "the victim masked with the forged pair",
      );
    }),
);
