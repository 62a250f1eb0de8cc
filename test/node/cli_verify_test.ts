/**
 * `fedagg verify` with every file the API serves of an aggregate (node/cli/verify.ts): a round
 * between real Endpoints signed with real identities, under a roster with a PyTorch-style layout
 * of several tensors; the certified sum and the mean as raw, `.npy` and safetensors (written as
 * the API writes them) are accepted, alone or together (exit 0), and every refusal (exit 1) says
 * what the file is and what was expected: a mean without the sum, a file of no known length, a
 * mean that differs at an index (naming the format, the index and the tensor), safetensors in
 * another layout, a sum that is not the certified one; never "from member N" for a file.
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { u32Bytes } from "../../protocol/encoding/bytes.ts";
import { inlineExpander } from "../../protocol/math/masking.ts";
import { dequantizeMean, quantize } from "../../protocol/math/quantize.ts";
import type { ModelLayout } from "../../protocol/federation/layout.ts";
import { createIdentity, type NodeIdentity } from "../../node/identity.ts";
import {
  addMember,
  DEFAULT_PARAMETERS,
  newRosterFile,
  rosterOf,
  signRoster,
  writeRosterFile,
} from "../../node/roster_file.ts";
import { encodeNpy, encodeRaw, encodeSafetensors } from "../../node/tensor_formats/mod.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { EndpointNet } from "../protocol/_harness.ts";
import { cli, withTempDir } from "./_helpers.ts";

/** state_dict order; d = 24 + 4 + 8 = 36, so index 17 lies in the first tensor, 30 in the last. */
const TORCH: ModelLayout = {
  tensors: [
    { name: "layer1.weight", shape: [4, 6] },
    { name: "layer1.bias", shape: [4] },
    { name: "layer2.weight", shape: [2, 4] },
  ],
};

Deno.test("cli verify: every format the API serves is accepted; every refusal names the file", async () => {
  await withTempDir("fedagg-verify-", async (root) => {
    const identities: NodeIdentity[] = [];
    for (let i = 0; i < 3; i++) {
      identities.push(await createIdentity(`${root}/m${i}`, rngFor("cli-verify", i)));
    }
    let file = newRosterFile({
      ...DEFAULT_PARAMETERS,
      federation: "verify-formats",
      dim: 36,
      layout: TORCH,
      maxWeight: 10,
    });
    for (const id of identities) file = addMember(file, id.card(["/ip4/127.0.0.1/tcp/1"]));
    for (const id of identities) file = await signRoster(file, id);
    const rosterPath = `${root}/roster.json`;
    await writeRosterFile(rosterPath, file);
    const roster = rosterOf(file);
    const signers = roster.members.map((m) => identities.find((i) => i.peerId === m.id)!.signer);

    // One round between Endpoints.
    const net = new EndpointNet({ roster, signers }, inlineExpander, "cli-verify/endpoint");
    let final;
    try {
      const inputs = signers.map((_, i) => {
        const r = rngFor("cli-verify", "input", i);
        const x = new Float32Array(roster.dim).map(() => r(1)[0] / 64 - 2);
        return quantize(x, 1 + i, roster.quantization, r);
      });
      await net.submit(0, inputs);
      await net.deliver();
      final = net.events("final").find((e) => e.member === 0)!;
    } finally {
      net.close();
    }
    assert(final !== undefined, "the round is final");
    const mean = dequantizeMean(final.aggregate, roster.quantization, final.members.length);
    // The files the API serves: format=sum, raw, npy (flat for several tensors), safetensors.
    const files: Record<string, Uint8Array> = {
      "certificate.cbor": final.certificate,
      "sum": u32Bytes(final.aggregate),
      "mean.raw": encodeRaw(mean),
      "mean.npy": encodeNpy(mean),
      "mean.safetensors": encodeSafetensors(mean, TORCH),
    };
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${root}/${name}`, bytes);
    }
    const verify = (...files: string[]) =>
      cli(
        "verify",
        ...["--certificate", `${root}/certificate.cbor`, "--roster", rosterPath, "--json"],
        ...files.flatMap((f) => ["--aggregate", `${root}/${f}`]),
      );
    const verdict = async (...files: string[]) => {
      const r = await verify(...files);
      return { code: r.code, json: JSON.parse(r.out) };
    };

    // Accepted: the sum alone, the sum with each mean, with all of them (in any order).
    for (
      const set of [
        ["sum"],
        ["sum", "mean.raw"],
        ["mean.npy", "sum"],
        ["sum", "mean.safetensors"],
        [
          "mean.safetensors",
          "mean.npy",
          "sum",
          "mean.raw",
        ],
      ]
    ) {
      const v = await verdict(...set);
      assertEquals(v.code, 0, `${set}: ${JSON.stringify(v.json)}`);
      assertEquals(v.json.valid, true);
      assertEquals(v.json.files.length, set.length);
      assert(v.json.files.every((f: { matches: boolean }) => f.matches));
      assertEquals(v.json.meanMatches, set.length > 1 ? true : undefined);
    }
    // --mean is the same as a further --aggregate (and the text form names the formats).
    const text = await cli(
      "verify",
      ...["--certificate", `${root}/certificate.cbor`, "--roster", rosterPath],
      ...["--aggregate", `${root}/sum`, "--mean", `${root}/mean.safetensors`],
    );
    assertEquals(text.code, 0, text.out);
    assertMatch(text.out, /^valid: round 0 view 0, .*the mean matches \(safetensors\)$/);

    const refused = async (files: string[], ...patterns: RegExp[]) => {
      const v = await verdict(...files);
      assertEquals(v.code, 1, JSON.stringify(v.json));
      assertEquals(v.json.valid, false);
      for (const p of patterns) assertMatch(v.json.reason, p);
      assert(!/from member/.test(v.json.reason), v.json.reason);
      return v.json.reason as string;
    };

    // A mean alone (each format): what it is, and where the certified sum comes from.
    for (
      const [name, what] of [
        ["mean.npy", "float32 .npy"],
        ["mean.raw", "raw float32"],
        ["mean.safetensors", "safetensors"],
      ]
    ) {
      await refused(
        [name],
        new RegExp(`mean\\.${name.split(".")[1]} is a ${what.replace(".", "\\.")} mean`),
        /no file given is the certified sum/,
        /format=sum/,
        /37 uint32 words, 148 bytes/,
      );
    }
    // A file of no known length (the issue's 4128-byte file for d = 1001, here 4·36 + 7).
    await Deno.writeFile(`${root}/odd.bin`, new Uint8Array(4 * 36 + 7));
    await refused(
      ["sum", "odd.bin"],
      /odd\.bin has 151 bytes: it is neither the certified sum of d \+ 1 = 37 uint32 words \(148 bytes\) nor a float32 mean of d = 36 values/,
    );

    // A mean that differs at index 17 (in tensor layer1.weight) and at 30 (in layer2.weight).
    for (const index of [17, 30]) {
      const off = mean.slice();
      off[index] += 0.5;
      await Deno.writeFile(`${root}/off.npy`, encodeNpy(off));
      await Deno.writeFile(`${root}/off.raw`, encodeRaw(off));
      await Deno.writeFile(`${root}/off.safetensors`, encodeSafetensors(off, TORCH));
      const tensor = index === 17 ? `"layer1.weight", element 17` : `"layer2.weight", element 2`;
      for (
        const [name, what] of [
          ["off.npy", "float32 \\.npy"],
          ["off.raw", "raw float32"],
          ["off.safetensors", "safetensors"],
        ]
      ) {
        const reason = await refused(
          ["sum", name],
          new RegExp(
            `off\\.\\w+ is a ${what} mean of 36 values; it differs from the certified mean at ` +
              `index ${index} \\(tensor ${tensor}\\)`,
          ),
        );
        assert(reason.includes("certified)"), reason);
        const v = await verdict("sum", name);
        assertEquals(v.json.meanMatches, false);
      }
    }
    // Safetensors of another layout (names in name order, as a model file would have them).
    const alphabetical: ModelLayout = { tensors: [...TORCH.tensors].reverse() };
    await Deno.writeFile(`${root}/other.safetensors`, encodeSafetensors(mean, alphabetical));
    // The same names and shapes in another order are the same tensors: accepted only when the
    // values are the federation's tensors (here they are not: the data is in another order).
    await refused(["sum", "other.safetensors"], /other\.safetensors is a safetensors mean/);
    await Deno.writeFile(
      `${root}/renamed.safetensors`,
      encodeSafetensors(mean, {
        tensors: TORCH.tensors.map((t) => ({ name: `model.${t.name}`, shape: t.shape })),
      }),
    );
    await refused(
      ["sum", "renamed.safetensors"],
      /renamed\.safetensors looks like a safetensors file but is not a float32 mean of the roster's d = 36 values in its layout/,
      /layout-mismatch: the federation's tensor 0 'layer1\.weight' \[4, 6\] is missing/,
    );
    // An .npy of another length.
    await Deno.writeFile(`${root}/short.npy`, encodeNpy(mean.subarray(0, 35)));
    await refused(
      ["sum", "short.npy"],
      /short\.npy looks like a \.npy file but is not a float32 mean/,
      /wrong-length/,
    );
    // A float64 .npy: named as what it is, never called float32.
    const f64 = encodeNpy(mean).slice();
    const descr = f64.findIndex((_, i) =>
      f64[i] === 0x3c && f64[i + 1] === 0x66 && f64[i + 2] === 0x34
    );
    f64[descr + 2] = 0x38; // '<f4' → '<f8' in the header (the data stays 144 bytes: 18 doubles)
    await Deno.writeFile(`${root}/f64.npy`, f64);
    const f64Refusal = await refused(["sum", "f64.npy"], /f64\.npy looks like a \.npy file/);
    assert(!/float32 \.npy file/.test(f64Refusal), f64Refusal);
    // No upload advice for a download.
    const renamed = await refused(["sum", "renamed.safetensors"], /renamed\.safetensors/);
    assert(!/Upload the tensors|\?layout=flat/.test(renamed), renamed);
    // A sum that is not the certified one (one bit), and a tampered certificate.
    const tampered = u32Bytes(final.aggregate).slice();
    tampered[5] ^= 1;
    await Deno.writeFile(`${root}/tampered`, tampered);
    await refused(
      ["tampered", "mean.npy"],
      /tampered is a sum of 37 uint32 words, but not the one the certificate .* certifies/,
    );
    const badCert = final.certificate.slice();
    badCert[Math.floor(badCert.length / 2)] ^= 0x10;
    await Deno.writeFile(`${root}/certificate.cbor`, badCert);
    await refused(["sum"], /the certificate .*certificate\.cbor is not valid/);
  });
});
