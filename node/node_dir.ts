/**
 * A new node directory, as `fedagg init` makes it: the identity (`identity.json`, mode 0600, in
 * a directory of mode 0700), the trainer API token (`api.token`, 0600), the node's own settings
 * (`node.json`, 0600: the addresses it listens on) and its public member card (`card.json`,
 * 0644) for the roster. The CLI and the local test network both create directories through
 * {@link initNodeDir}, so they hold the same files. `fedagg run` reads the settings and the token
 * back through {@link readNodeConfig} and {@link readApiToken}, which refuse what the node could
 * not use before anything starts.
 *
 * @module
 */
import { ConfigError, MAX_NAME_LENGTH, type Rng, systemRng, toBase64 } from "../protocol/mod.ts";
import { readFileIfExists, writeFileAtomic } from "./atomic_file.ts";
import { NodeError } from "./errors.ts";
import { createIdentity, type MemberCard, type NodeIdentity } from "./identity.ts";
import { type ListenMultiaddr, parseListenMultiaddrs } from "./listen_address.ts";

/** Where a node listens when neither `init` nor `run` is given an address. */
export const DEFAULT_LISTEN: readonly string[] = ["/ip4/127.0.0.1/tcp/4001"];

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** What {@link initNodeDir} created. Holds secrets (the identity and the token): never log it. */
export interface InitializedNode {
  readonly identity: NodeIdentity;
  /** The trainer API's bearer token, as written to `api.token`. */
  readonly token: string;
  /** The member card, as written to `card.json`. */
  readonly card: MemberCard;
}

/**
 * Creates the node directory `dir`: a new identity (from `rng`), a random API token of 32
 * alphanumeric characters, `node.json` with `listen` (default {@link DEFAULT_LISTEN}) and the
 * card announcing `announce` (default: the listen addresses) and the display name `name`, if
 * given. Refuses, before writing anything,
 * listen addresses the node could not listen on (NodeError `address-invalid`, see
 * `parseListenMultiaddrs`), a name the roster would refuse (ConfigError `name`) and a directory that already has an identity (`identity-exists`).
 */
export async function initNodeDir(
  dir: string,
  options: { listen?: readonly string[]; announce?: readonly string[]; name?: string } = {},
  rng: Rng = systemRng,
): Promise<InitializedNode> {
  const listen = options.listen !== undefined && options.listen.length > 0
    ? [...options.listen]
    : [...DEFAULT_LISTEN];
  parseListenMultiaddrs(listen, "--listen", "address-invalid");
  if (
    options.name !== undefined &&
    (options.name.length > MAX_NAME_LENGTH || CONTROL.test(options.name))
  ) {
    throw new ConfigError(
      "name",
      `must be at most ${MAX_NAME_LENGTH} characters without control characters`,
    );
  }
  const announce = options.announce !== undefined && options.announce.length > 0
    ? options.announce
    : listen;
  const identity = await createIdentity(dir, rng);
  // 24 random bytes in base64 are 32 characters without padding; "+" and "/" become "x" so the
  // token needs no quoting anywhere (it keeps well over 128 bits).
  const token = toBase64(rng(24)).replace(/[+/=]/g, "x");
  await writeFileAtomic(`${dir}/api.token`, token + "\n", 0o600);
  await writeFileAtomic(`${dir}/node.json`, JSON.stringify({ listen }, null, 2) + "\n", 0o600);
  const card = identity.card(announce, options.name);
  await writeFileAtomic(`${dir}/card.json`, JSON.stringify(card, null, 2) + "\n", 0o644);
  return { identity, token, card };
}

/** Path of the node's own settings in a node directory. */
export function nodeConfigPath(dir: string): string {
  return `${dir}/node.json`;
}

/**
 * The listen addresses of `DIR/node.json` ({@link DEFAULT_LISTEN} when the file does not exist).
 * Refuses (NodeError `node-config-invalid`, naming the file and what is wrong) a file that is not
 * a JSON object, or whose `listen` is missing or not a non-empty list of `/ip4|ip6/ADDR/tcp/PORT`
 * multiaddrs.
 */
export async function readNodeConfig(dir: string): Promise<{ listen: ListenMultiaddr[] }> {
  const path = nodeConfigPath(dir);
  const raw = await readFileIfExists(path);
  if (raw === undefined) {
    return { listen: parseListenMultiaddrs([...DEFAULT_LISTEN], "default", "node-config-invalid") };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    throw new NodeError(
      "node-config-invalid",
      `${path} is not valid JSON: fix it or write {"listen": ["/ip4/127.0.0.1/tcp/4001"]}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new NodeError("node-config-invalid", `${path} must be a JSON object with "listen"`);
  }
  return {
    listen: parseListenMultiaddrs(
      (parsed as { listen?: unknown }).listen,
      `${path}: listen`,
      "node-config-invalid",
    ),
  };
}

/** Path of the trainer API's token in a node directory. */
export function apiTokenPath(dir: string): string {
  return `${dir}/api.token`;
}

/** The characters of a bearer token (RFC 6750's b64token). */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Shortest token accepted (16 characters; `fedagg init` writes 32). */
export const MIN_TOKEN_LENGTH = 16;

/** Longest token accepted: a token travels in every request's header. */
export const MAX_TOKEN_LENGTH = 1024;

/**
 * The trainer API's token from `DIR/api.token` (surrounding whitespace removed). Refuses a
 * missing file (NodeError `no-token`) and (`api-token`) a token shorter than
 * {@link MIN_TOKEN_LENGTH} or longer than {@link MAX_TOKEN_LENGTH} characters, or with
 * characters outside RFC 6750's `A–Z a–z 0–9 - . _ ~ + /` (then `=` padding). The messages never
 * contain the token or any character of it.
 */
export async function readApiToken(dir: string): Promise<string> {
  const path = apiTokenPath(dir);
  const raw = await readFileIfExists(path);
  if (raw === undefined) {
    throw new NodeError("no-token", `${path} not found: \`fedagg init\` writes one`);
  }
  let token: string | undefined;
  try {
    token = new TextDecoder("utf-8", { fatal: true }).decode(raw).trim();
  } catch {
    token = undefined; // not UTF-8: refused as such below
  } finally {
    raw.fill(0);
  }
  const fix = `write a random one, e.g. \`openssl rand -hex 32 > ${path}\``;
  if (
    token !== undefined && (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH)
  ) {
    throw new NodeError(
      "api-token",
      `${path} must hold a token of ${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} characters ` +
        `(it has ${token.length}): ${fix}`,
    );
  }
  if (token === undefined || !TOKEN.test(token)) {
    throw new NodeError(
      "api-token",
      `${path} must hold one token of the characters A-Z a-z 0-9 - . _ ~ + / (then = padding), ` +
        `without spaces or line breaks inside: ${fix}`,
    );
  }
  return token;
}
