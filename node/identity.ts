/**
 * A node's long-term identity: an Ed25519 seed (its libp2p key, hence its PeerId, and its
 * protocol signing key — the same key) and an ML-DSA-65 seed (its post-quantum signing key).
 * Both live in `DIR/identity.json`, written atomically with mode 0600; a file readable by anyone
 * else is refused.
 *
 * @module
 */
import { generateKeyPairFromSeed } from "npm:@libp2p/crypto@5.1.23/keys";
import type { PrivateKey } from "npm:@libp2p/interface@3.3.0";
import { peerIdFromPrivateKey } from "npm:@libp2p/peer-id@6.0.15";
import { fromBase64, MemberSigner, type Rng, systemRng, toBase64, wipe } from "../protocol/mod.ts";
import { readFileIfExists, syncDirectory, writeFileAtomic } from "./atomic_file.ts";
import { NodeError } from "./errors.ts";

const FORMAT = "fedagg/identity/v1";

/** What `fedagg init` prints and `fedagg roster add` takes: a member's public description. */
export interface MemberCard {
  readonly fedagg: "fedagg/member/v1";
  /** The libp2p PeerId (derived from the Ed25519 key). */
  readonly id: string;
  /** Ed25519 public key, base64. */
  readonly signingKey: string;
  /** ML-DSA-65 public key, base64. */
  readonly pqSigningKey: string;
  /** Multiaddrs the node listens on. */
  readonly addresses: readonly string[];
  /** The member's display name (its organisation), when `fedagg init --name` gave one. */
  readonly name?: string;
}

/** A loaded identity. Holds secrets: never log it. */
export interface NodeIdentity {
  readonly peerId: string;
  readonly libp2pKey: PrivateKey;
  readonly signer: MemberSigner;
  /** This member's public card with the given addresses (and display name, if any). */
  card(addresses: readonly string[], name?: string): MemberCard;
}

/** Path of the identity file in a node directory. */
export function identityPath(dir: string): string {
  return `${dir}/identity.json`;
}

/**
 * The identity of two 32-byte seeds, which it wipes (also on failure): the libp2p key and both
 * signers keep their own copies (libp2p concatenates the seed with the public key, node:crypto
 * imports a DER copy, WebCrypto copies the key data), so the seeds are not needed afterwards.
 */
async function fromSeeds(edSeed: Uint8Array, pqSeed: Uint8Array): Promise<NodeIdentity> {
  let libp2pKey: PrivateKey;
  let signer: MemberSigner;
  try {
    libp2pKey = await generateKeyPairFromSeed("Ed25519", edSeed);
    signer = await MemberSigner.fromSeeds(edSeed, pqSeed);
  } finally {
    wipe(edSeed, pqSeed);
  }
  const peerId = peerIdFromPrivateKey(libp2pKey).toString();
  return {
    peerId,
    libp2pKey,
    signer,
    card: (addresses, name) => ({
      fedagg: "fedagg/member/v1",
      id: peerId,
      signingKey: toBase64(signer.signingKey),
      pqSigningKey: toBase64(signer.pqSigningKey!),
      addresses: [...addresses],
      ...(name === undefined ? {} : { name }),
    }),
  };
}

/**
 * Creates a new identity in `dir` (created if missing, mode 0700). Refuses (NodeError) to
 * overwrite an existing identity: losing a key means leaving the federation.
 */
export async function createIdentity(dir: string, rng: Rng = systemRng): Promise<NodeIdentity> {
  const path = identityPath(dir);
  if (await readFileIfExists(path) !== undefined) {
    throw new NodeError(
      "identity-exists",
      `${path} already exists; refusing to overwrite a node identity (move it away first)`,
    );
  }
  const edSeed = rng(32);
  const pqSeed = rng(32);
  const json = JSON.stringify(
    { fedagg: FORMAT, ed25519Seed: toBase64(edSeed), mlDsa65Seed: toBase64(pqSeed) },
    null,
    2,
  );
  // Built before anything is written: fromSeeds wipes the seeds, whatever happens next.
  const identity = await fromSeeds(edSeed, pqSeed);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // Written to a temporary name, then linked into place: the link fails if another `init` got
  // there first, so two concurrent inits can never both believe they own the key on disk.
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await writeFileAtomic(tmp, json + "\n", 0o600);
  try {
    await Deno.link(tmp, path);
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new NodeError("identity-exists", `${path} already exists; refusing to overwrite it`);
    }
    throw err;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  await syncDirectory(dir);
  return identity;
}

/**
 * Loads the identity of `dir`. Refuses (NodeError) a missing file, a file others can read or
 * write (mode must be 0600 or stricter), and anything that does not parse.
 */
export async function loadIdentity(dir: string): Promise<NodeIdentity> {
  const path = identityPath(dir);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NodeError("no-identity", `${path} not found: run \`fedagg init --dir ${dir}\``);
    }
    throw err;
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new NodeError(
      "identity-permissions",
      `${path} is accessible by other users (mode ${(info.mode & 0o777).toString(8)}); ` +
        `run \`chmod 600 ${path}\``,
    );
  }
  let parsed: { fedagg?: unknown; ed25519Seed?: unknown; mlDsa65Seed?: unknown };
  try {
    parsed = JSON.parse(await Deno.readTextFile(path));
  } catch {
    throw new NodeError("identity-invalid", `${path} is not valid JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new NodeError("identity-invalid", `${path} is not a ${FORMAT} object`);
  }
  const seed = (value: unknown, name: string) => {
    let bytes: Uint8Array | undefined;
    try {
      bytes = typeof value === "string" ? fromBase64(value) : undefined;
    } catch {
      bytes = undefined;
    }
    if (bytes === undefined || bytes.length !== 32) {
      throw new NodeError("identity-invalid", `${path}: ${name} must be 32 bytes of base64`);
    }
    return bytes;
  };
  if (parsed.fedagg !== FORMAT) {
    throw new NodeError("identity-invalid", `${path} is not a ${FORMAT} file`);
  }
  return await fromSeeds(
    seed(parsed.ed25519Seed, "ed25519Seed"),
    seed(parsed.mlDsa65Seed, "mlDsa65Seed"),
  );
}
