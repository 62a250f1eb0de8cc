/**
 * The model's layout from a file, for `fedagg roster create --layout`: a safetensors model (only
 * its header is read) or a `layout.json`:
 *
 * ```json
 * { "tensors": [{ "name": "layer1.weight", "shape": [8, 4] }, { "name": "layer1.bias", "shape": [8] }] }
 * ```
 *
 * A `layout.json` keeps the order it lists (write it from PyTorch's `state_dict()` to keep that
 * order); a safetensors file gives the order of its data, which for files the Python library
 * writes is name order.
 *
 * @module
 */
import { checkedLayout, ConfigError, MAX_DIM, type ModelLayout } from "../../protocol/mod.ts";
import { NodeError } from "../errors.ts";
import { FormatError } from "./errors.ts";
import {
  looksLikeSafetensors,
  safetensorsHeaderLength,
  safetensorsTensors,
} from "./safetensors.ts";

/** Where a layout came from, for messages: the file and what it was read as. */
export interface LayoutSource {
  readonly layout: ModelLayout;
  /** `"safetensors"` (the header of a model file) or `"json"` (a layout.json). */
  readonly kind: "safetensors" | "json";
}

/**
 * Reads the layout in file `path` (see the module doc). Refuses with a NodeError `layout-invalid`
 * naming the file: a file that cannot be read, a safetensors header the format refuses (a
 * non-float32 tensor included), JSON that is not a valid layout (`checkedLayout`'s refusals: no
 * tensor, a repeated name, a bad shape, more than 2^26 values).
 */
export async function readLayoutFile(path: string): Promise<LayoutSource> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    throw new NodeError(
      "layout-invalid",
      `cannot read the layout ${path}: ${(err as Error).message}`,
    );
  }
  try {
    const size = (await file.stat()).size;
    const prefix = await readExactly(file, Math.min(size, 16));
    if (looksLikeSafetensors(prefix) || (size >= 16 && isSafetensorsPrefix(prefix, size))) {
      const n = safetensorsHeaderLength(prefix);
      await file.seek(0, Deno.SeekMode.Start);
      const head = await readExactly(file, Math.min(size, 8 + n));
      const tensors = safetensorsTensors(head, size - 8 - n);
      return { layout: checkedLayout({ tensors }, MAX_DIM), kind: "safetensors" };
    }
    await file.seek(0, Deno.SeekMode.Start);
    if (size > 64 << 20) {
      throw new NodeError("layout-invalid", `${path}: a layout.json of ${size} bytes is too large`);
    }
    const text = new TextDecoder("utf-8", { fatal: true }).decode(await readExactly(file, size));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new NodeError(
        "layout-invalid",
        `${path} is neither a safetensors file nor JSON (${(err as Error).message})`,
      );
    }
    return { layout: checkedLayout(json, MAX_DIM), kind: "json" };
  } catch (err) {
    if (err instanceof FormatError || err instanceof ConfigError) {
      throw new NodeError("layout-invalid", `${path}: ${err.message}`);
    }
    if (err instanceof TypeError) {
      throw new NodeError("layout-invalid", `${path} is neither a safetensors file nor UTF-8 JSON`);
    }
    throw err;
  } finally {
    file.close();
  }
}

/** A safetensors length prefix followed by `{` that fits a file of `size` bytes. */
function isSafetensorsPrefix(prefix: Uint8Array, size: number): boolean {
  const n = safetensorsHeaderLength(prefix);
  return n >= 2 && 8 + n <= size && prefix[8] === 0x7b;
}

async function readExactly(file: Deno.FsFile, count: number): Promise<Uint8Array> {
  const out = new Uint8Array(count);
  let got = 0;
  while (got < count) {
    const n = await file.read(out.subarray(got));
    if (n === null) break;
    got += n;
  }
  return out.subarray(0, got);
}
