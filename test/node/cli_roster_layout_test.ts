/**
 * `fedagg roster create --layout` and the quantization the roster commands print and check
 * (node/cli/roster.ts): a layout.json (state_dict order kept) or a safetensors model fills the
 * roster's layout and d; `--dim` must agree; a bad layout file is refused naming it. `create`,
 * `add` and `verify` print the scale, the clipping range and the proven error bound; parameters
 * whose bound exceeds 0.001 × the clip (the issue's `--max-weight 100000000` with n = 3: 0.143)
 * are refused by `create` and `add` and fail `verify` unless `--force`.
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import type { RosterFile } from "../../node/roster_file.ts";
import { encodeSafetensors } from "../../node/tensor_formats/mod.ts";
import { cli, exists, withTempDir } from "./_helpers.ts";

const STATE_DICT = {
  tensors: [
    { name: "fc1.weight", shape: [8, 4] },
    { name: "fc1.bias", shape: [8] },
    { name: "fc2.weight", shape: [2, 8] },
    { name: "fc2.bias", shape: [2] },
  ],
};

/** Three members' cards (fedagg init) in `root`. */
async function cards(root: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = `${root}/m${i}`;
    const r = await cli("init", "--dir", dir, "--listen", `/ip4/127.0.0.1/tcp/${4300 + i}`);
    assertEquals(r.code, 0, r.err);
    out.push("--card", `${dir}/card.json`);
  }
  return out;
}

Deno.test("cli roster: --layout from a layout.json or a safetensors model fills layout and d", async () => {
  await withTempDir("fedagg-cli-layout-", async (root) => {
    await Deno.writeTextFile(`${root}/layout.json`, JSON.stringify(STATE_DICT));
    const path = `${root}/roster.json`;
    const created = await cli(
      "roster",
      "create",
      ...["--out", path, "--federation", "f", "--layout", `${root}/layout.json`],
    );
    assertEquals(created.code, 0, created.err);
    assertMatch(
      created.out,
      /layout from .*layout\.json \(layout\.json\): 4 float32 tensor\(s\), d = 58, in this order: fc1\.weight \[8, 4\], fc1\.bias \[8\]/,
    );
    const file = JSON.parse(await Deno.readTextFile(path)) as RosterFile;
    assertEquals(file.dim, 58);
    assertEquals(file.layout, STATE_DICT);
    // The state_dict order is kept through the members, the signatures and the node's roster.
    const added = await cli("roster", "add", "--roster", path, ...await cards(root));
    assertEquals(added.code, 0, added.err);
    for (let i = 0; i < 3; i++) {
      assertEquals(
        (await cli("roster", "sign", "--roster", path, "--dir", `${root}/m${i}`)).code,
        0,
      );
    }
    const verified = await cli("roster", "verify", "--roster", path, "--json");
    assertEquals(verified.code, 0, verified.out);
    assertEquals(JSON.parse(verified.out).dim, 58);
    assertEquals(JSON.parse(verified.out).tensors, 4);

    // --dim must be the layout's size.
    const wrong = await cli(
      "roster",
      "create",
      ...["--out", `${root}/r2.json`, "--federation", "f", "--layout", `${root}/layout.json`],
      ...["--dim", "57"],
    );
    assertEquals(wrong.code, 2);
    assertMatch(wrong.err, /dim.*57.*58 values/);
    assert(!await exists(`${root}/r2.json`));

    // A safetensors model: its header only, tensors in the order of their data.
    const values = new Float32Array(58);
    await Deno.writeFile(`${root}/model.safetensors`, encodeSafetensors(values, STATE_DICT));
    const fromModel = await cli(
      "roster",
      "create",
      ...["--out", `${root}/r3.json`, "--federation", "f", "--layout", `${root}/model.safetensors`],
    );
    assertEquals(fromModel.code, 0, fromModel.err);
    assertMatch(fromModel.out, /safetensors header/);
    assertEquals(
      (JSON.parse(await Deno.readTextFile(`${root}/r3.json`)) as RosterFile).layout,
      STATE_DICT,
    );

    // A file that is no layout: refused naming it, nothing written.
    await Deno.writeTextFile(`${root}/bad.json`, '{"tensors": [{"name": "w", "shape": [-1]}]}');
    const bad = await cli(
      "roster",
      "create",
      ...["--out", `${root}/r4.json`, "--federation", "f", "--layout", `${root}/bad.json`],
    );
    assertEquals(bad.code, 2);
    assertMatch(bad.err, /bad\.json.*shape/);
    assert(!await exists(`${root}/r4.json`));
  });
});

Deno.test("cli roster: the quantization is printed and imprecise parameters need --force", async () => {
  await withTempDir("fedagg-cli-quant-", async (root) => {
    // Defaults: clip 8, maxWeight 1: printed, well within the limit.
    const ok = await cli(
      "roster",
      "create",
      "--out",
      `${root}/ok.json`,
      "--federation",
      "f",
      "--dim",
      "10",
    );
    assertEquals(ok.code, 0, ok.err);
    assertMatch(
      ok.out,
      /quantization: scale \S+ \(\d+ levels\), clipping range \[-8, 8\], proven error bound of the mean \S+/,
    );
    assertMatch(ok.out, /within 0\.001 × the clip for up to 65535 members/);

    // The roster: maxWeight 1e8 and n = 3 leaves 15 levels, a bound of 0.143.
    const args = ["--federation", "f", "--dim", "10", "--clip", "1", "--max-weight", "100000000"];
    const refused = await cli("roster", "create", "--out", `${root}/coarse.json`, ...args);
    assertEquals(refused.code, 2);
    assertMatch(refused.err, /error bound of the mean, 0\.143, exceeds 0\.001 × the clip/);
    assertMatch(refused.err, /--force/);
    assert(!await exists(`${root}/coarse.json`));
    const forced = await cli(
      "roster",
      "create",
      "--out",
      `${root}/coarse.json`,
      ...args,
      "--force",
    );
    assertEquals(forced.code, 0, forced.err);
    assertMatch(forced.out, /proven error bound of the mean 0\.143/);
    const path = `${root}/coarse.json`;
    const memberCards = await cards(root);
    const addRefused = await cli("roster", "add", "--roster", path, ...memberCards);
    assertEquals(addRefused.code, 2);
    assertMatch(addRefused.err, /error bound of the mean, 0\.143, .*for 3 members/);
    assertEquals((JSON.parse(await Deno.readTextFile(path)) as RosterFile).members, []);
    assertEquals((await cli("roster", "add", "--roster", path, ...memberCards, "--force")).code, 0);
    for (let i = 0; i < 3; i++) {
      assertEquals(
        (await cli("roster", "sign", "--roster", path, "--dir", `${root}/m${i}`)).code,
        0,
      );
    }
    // verify: signed by all, but not precise enough: exit 1 unless --force; the figures printed.
    const verify = await cli("roster", "verify", "--roster", path);
    assertEquals(verify.code, 1, verify.out);
    assertMatch(verify.out, /valid, signed by all 3 members/);
    assertMatch(verify.out, /scale 7 \(15 levels\), clipping range \[-1, 1\]/);
    assertMatch(verify.out, /NOT precise enough: the proven error bound of the mean, 0\.143/);
    const json = JSON.parse((await cli("roster", "verify", "--roster", path, "--json")).out);
    assertEquals(json.quantization.withinPrecision, false);
    assertEquals(json.quantization.levels, 15);
    assertEquals(json.quantization.maxRelativeError, 0.001);
    assert(json.quantization.errorBound > 0.14 && json.quantization.errorBound < 0.15);
    const accepted = await cli("roster", "verify", "--roster", path, "--force");
    assertEquals(accepted.code, 0, accepted.out);
    assertMatch(accepted.out, /accepted with --force/);
  });
});
