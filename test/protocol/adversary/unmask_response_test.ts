/**
 * Adversarial tests: a holder whose Unmask reveals the wrong owners (validly re-signed). The
 * leader must refuse it as `inconsistent-lists` naming the holder, saying which rule it broke —
 * both secrets of one owner, or not exactly the self shares of its neighbours in U3 and the mask
 * shares of those in U2 \ U3 — and must not use any of its shares; the round still ends with
 * the exact aggregate from the other holders' shares. (Without these tests the leader's call of
 * `checkUnmask` could be removed and the whole suite still passed.)
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import type { Value } from "../../../protocol/encoding/codec.ts";
import { wireOf } from "../_frames.ts";
import { refusalTriples, resealBy, scenario, SEVEN } from "./_attacks.ts";

type Shares = [number, Uint8Array][];

/** `shares` plus `extra`, in ascending owner order (as the wire requires). */
const withShare = (shares: Shares, extra: [number, Uint8Array]): Shares =>
  [...shares, extra].sort((a, b) => a[0] - b[0]);

const LIES: [string, (self: Shares, mask: Shares) => [Shares, Shares], string][] = [
  [
    "both secrets of an alive member (its mask share added)",
    (self, mask) => [self, withShare(mask, self[0])],
    "revealed both secrets of member",
  ],
  [
    "one self share too few",
    (self, mask) => [self.slice(1), mask],
    "unmask shares do not match the holder's neighbours in U3 and U2 \\ U3",
  ],
  [
    "an alive member's share moved to the mask list",
    (self, mask) => [self.slice(1), withShare(mask, self[0])],
    "unmask shares do not match the holder's neighbours in U3 and U2 \\ U3",
  ],
];

for (const [what, lie, says] of LIES) {
  Deno.test(
    `14. an Unmask revealing ${what} → inconsistent-lists naming the holder; exact aggregate`,
    () =>
      scenario(SEVEN, async (fed) => {
        const L = fed.leader(0);
        const holder = fed.others([L]).at(-1)!;
        let lied = 0;
        fed.intercept = async (w) => {
          if (w.from !== holder || w.type !== "unmask") return undefined;
          lied++;
          const frame = await resealBy(fed, holder, w.frame, ([self, mask]) =>
            lie(self as Shares, mask as Shares) as Value[]);
          return [wireOf(holder, w.to, frame)];
        };
        await fed.submitAll(0);
        await fed.runToFinal(0);
        assertEquals(lied, 1, "the holder sent one unmask");
        assertEquals(refusalTriples(fed), [[L, "inconsistent-lists", holder]]);
        const [refusal] = fed.refusals(L);
        assert(refusal.error.message.includes(says), `"${refusal.error.message}" says "${says}"`);
        const final = await fed.assertExact(0, fed.n);
        assertEquals(final.view, 0);
      }),
  );
}
