/**
 * `verifyFinalCertificate` (protocol/certificate/final.ts) on hostile encodings the adversary
 * suite's tampering does not build: a co-signature list holding something other than bytes must
 * be refused as `malformed`, naming the element, and never throw anything but a
 * {@link ProtocolError} (`fedagg verify` reads such files from anywhere).
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { verifyFinalCertificate } from "../../../protocol/certificate/final.ts";
import { encode, type Value } from "../../../protocol/encoding/codec.ts";
import { ProtocolError } from "../../../protocol/errors.ts";
import { federation, finalParts, u8 } from "../_fixtures.ts";
import { startedNet } from "../_harness.ts";

Deno.test(
  "final certificate checks: a co-signature that is not bytes → malformed, naming the element",
  async () => {
    const fed = await federation({ n: 5, dim: 6, seed: "final-checks" });
    const net = await startedNet(fed, 0);
    const [final] = net.events("final");
    const body = u8(final.aggregate);
    const { tag, certificate, cosigns } = finalParts(final);
    const verified = await verifyFinalCertificate(fed.roster, final.certificate, body);
    assertEquals(verified.cosigners.length, cosigns.length);
    const junk: [string, Value][] = [
      ["a number", 42],
      ["a string", "cosign"],
      ["a list", [cosigns[0]]],
      ["null", null],
    ];
    for (const [what, element] of junk) {
      for (const at of [0, cosigns.length - 1]) {
        const list: Value[] = [...cosigns];
        list[at] = element;
        const e = await assertRejects(
          () => verifyFinalCertificate(fed.roster, encode([tag, certificate, list]), body),
          ProtocolError,
        ) as ProtocolError;
        assertEquals(e.code, "malformed", `${what} at ${at}: ${e.message}`);
        assert(e.message.includes(`co-signature ${at} is not bytes`), `${what}: ${e.message}`);
      }
    }
  },
);
