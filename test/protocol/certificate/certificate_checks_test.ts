/**
 * `checkCertificate` (protocol/certificate/certificate.ts) rule by rule: a certificate of a
 * genuine round, re-sealed by its own leader with one thing wrong — the total weight not the
 * body's last word, below |U3| (every member weighs at least 1) or above |U3|·maxWeight, the body
 * of the wrong length or not the certified one, too few approvals, a signer that is not the
 * scheduled leader, a forged signature — must be refused with that rule's code and detail. The
 * weight rules were pinned by no test (`deno task mutate --filter certificate.ts:13`).
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { checkCertificate, sealCertificate } from "../../../protocol/certificate/certificate.ts";
import { ProtocolError, type RefusalCode } from "../../../protocol/errors.ts";
import { openFrame } from "../../../protocol/wire/frame.ts";
import { type Certificate, readCertificate } from "../../../protocol/wire/messages.ts";
import { federation, follower } from "../_fixtures.ts";
import { forgeSignature } from "../_frames.ts";
import { startedNet } from "../_harness.ts";

const ROUND = 0;

/** A genuine round's certificate (with its body) and a way to re-seal it changed. */
const genuine = (async () => {
  const fed = await federation({ n: 5, dim: 6, seed: "certificate-checks" });
  const { roster } = fed;
  const net = await startedNet(fed, ROUND);
  const wire = net.emitted.find((w) => w.type === "certificate")!;
  const env = openFrame(wire.frame, roster);
  const certificate = readCertificate(env, roster);
  const body = env.body!;
  return { fed, env, certificate, body };
})();

/**
 * The genuine certificate re-sealed by `signer` (default: its leader) as `sender`, with `parts`
 * changed and the aggregate body `body` (its hash certified unless `certifiedBody` differs).
 */
async function resealed(
  change: {
    parts?: Partial<Certificate>;
    body?: (body: Uint32Array) => Uint32Array;
    certifiedBody?: (body: Uint32Array) => Uint32Array;
    signer?: number;
  },
): Promise<{ frame: Uint8Array; body: Uint8Array }> {
  const { fed, env, certificate, body } = await genuine;
  const words = () => new Uint32Array(body.slice().buffer);
  const served = change.body?.(words()) ?? words();
  const certified = change.certifiedBody?.(words()) ?? served;
  const sender = change.signer ?? env.sender;
  const { frame } = await sealCertificate(
    fed.roster,
    env.session,
    sender,
    fed.signers[sender],
    { ...certificate, ...change.parts },
    new Uint8Array(certified.buffer),
  );
  return { frame, body: new Uint8Array(served.buffer) };
}

async function assertRefusedCertificate(
  made: { frame: Uint8Array; body: Uint8Array },
  code: RefusalCode,
  says: string,
): Promise<void> {
  const { fed } = await genuine;
  const e = await assertRejects(
    () => checkCertificate(fed.roster, openFrame(made.frame, fed.roster), made.body),
    ProtocolError,
  ) as ProtocolError;
  assertEquals([e.code, e.peer], [code, openFrame(made.frame, fed.roster).sender], e.message);
  assert(e.message.includes(says), `"${e.message}" says "${says}"`);
}

/** The body with its weight word (the last) set to `w`. */
const weighing = (w: number) => (b: Uint32Array) => {
  b[b.length - 1] = w;
  return b;
};

Deno.test("certificate checks: the genuine certificate, re-sealed unchanged, checks out", async () => {
  const { fed, certificate } = await genuine;
  const made = await resealed({});
  const checked = await checkCertificate(fed.roster, openFrame(made.frame, fed.roster), made.body);
  assertEquals(checked.certificate.totalWeight, certificate.totalWeight);
  assertEquals(checked.aggregate[fed.roster.dim], certificate.totalWeight);
});

Deno.test(
  "certificate checks: a total weight other than the body's last word → commitment-mismatch",
  async () => {
    const { certificate } = await genuine;
    const w = certificate.totalWeight;
    await assertRefusedCertificate(
      await resealed({ parts: { totalWeight: w + 1 } }),
      "commitment-mismatch",
      `total weight ${w + 1} is not the aggregate's (${w})`,
    );
  },
);

Deno.test(
  "certificate checks: a total weight below |U3| (body and certificate agreeing) → " +
    "commitment-mismatch",
  async () => {
    const { certificate } = await genuine;
    const k = certificate.u3.length;
    for (const w of [k - 1, 0]) {
      await assertRefusedCertificate(
        await resealed({ parts: { totalWeight: w }, body: weighing(w) }),
        "commitment-mismatch",
        `total weight ${w} is not the aggregate's (${w}) or outside [${k}, `,
      );
    }
  },
);

Deno.test(
  "certificate checks: a total weight above |U3|·maxWeight (body and certificate agreeing) → " +
    "commitment-mismatch",
  async () => {
    const { fed, certificate } = await genuine;
    const k = certificate.u3.length;
    const max = k * fed.roster.quantization.maxWeight;
    // The boundary itself is accepted.
    const made = await resealed({ parts: { totalWeight: max }, body: weighing(max) });
    await checkCertificate(fed.roster, openFrame(made.frame, fed.roster), made.body);
    await assertRefusedCertificate(
      await resealed({ parts: { totalWeight: max + 1 }, body: weighing(max + 1) }),
      "commitment-mismatch",
      `or outside [${k}, ${max}]`,
    );
  },
);

Deno.test("certificate checks: a body that is not the certified one → commitment-mismatch", async () => {
  await assertRefusedCertificate(
    await resealed({
      certifiedBody: (b) => {
        b[0] ^= 1;
        return b;
      },
    }),
    "commitment-mismatch",
    "aggregate body does not match the certified hash",
  );
});

Deno.test("certificate checks: a body of the wrong length → wrong-length", async () => {
  const { fed } = await genuine;
  const made = await resealed({});
  const bytes = 4 * (fed.roster.dim + 1);
  for (const body of [made.body.subarray(0, bytes - 4), new Uint8Array(bytes + 4)]) {
    await assertRefusedCertificate(
      { frame: made.frame, body },
      "wrong-length",
      `aggregate is ${body.length} bytes, expected ${bytes}`,
    );
  }
});

Deno.test(
  "certificate checks: t − 1 approvals → insufficient-approvals; another member as signer → " +
    "not-leader; a forged leader signature → bad-signature",
  async () => {
    const { fed, certificate, env } = await genuine;
    const t = fed.roster.threshold;
    await assertRefusedCertificate(
      await resealed({ parts: { approvals: certificate.approvals.slice(0, t - 1) } }),
      "insufficient-approvals",
      `${t - 1} valid approvals`,
    );
    await assertRefusedCertificate(
      await resealed({ signer: follower(fed.roster, ROUND, [env.session.view]) }),
      "not-leader",
      "is not from its leader",
    );
    const made = await resealed({});
    await assertRefusedCertificate(
      { frame: forgeSignature(made.frame), body: made.body },
      "bad-signature",
      "certificate signature",
    );
  },
);
