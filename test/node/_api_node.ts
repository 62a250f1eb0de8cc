/**
 * A real single-process {@link FedaggNode} behind the trainer API, for the API tests and the
 * abuse harness: a three-member roster where only this node runs, so updates are accepted and
 * journaled though no round completes. With `decidedRound`, the journal starts with that round
 * genuinely published (not final), so the federation's current round is one past it and every
 * older round still takes an update.
 *
 * @module
 */
import "../../node/shims.ts";
import { inlineExpander } from "../../protocol/math/masking.ts";
import type { ModelLayout } from "../../protocol/federation/layout.ts";
import { createIdentity, type NodeIdentity } from "../../node/identity.ts";
import { type ApiLimits, type ApiServer, serveApi } from "../../node/http_api.ts";
import { FedaggNode } from "../../node/node.ts";
import type { RetentionPolicy } from "../../node/journal_retention.ts";
import { Journal } from "../../node/journal.ts";
import { finalRound } from "./_journal_fixtures.ts";
import { addMember, DEFAULT_PARAMETERS, newRosterFile, rosterOf } from "../../node/roster_file.ts";
import { closeUnrefdChannels } from "../../node/shims.ts";
import { rngFor } from "../protocol/_fixtures.ts";

/** The bearer token of every test node. */
export const TOKEN = "test-token-0123456789abcdef";

/** A running node and its API. */
export interface ApiNode {
  readonly dir: string;
  readonly node: FedaggNode;
  readonly api: ApiServer;
  /** The API's port. */
  readonly port: number;
  readonly ids: readonly NodeIdentity[];
  readonly logs: { level: string; message: string; fields?: object }[];
}

/** What {@link startApiNode} may change. */
export interface ApiNodeOptions {
  readonly dim?: number;
  readonly maxWeight?: number;
  /** The roster's tensor layout (its size must be `dim`; default: the flat layout). */
  readonly layout?: ModelLayout;
  readonly limits?: Partial<ApiLimits>;
  /**
   * A round journaled as published (a genuine certificate, not final) before the node starts:
   * the node's current round is then `decidedRound + 1` (default: a node with no history,
   * whose current round is 0).
   */
  readonly decidedRound?: number;
  /** The journal retention policy (default: the node's). */
  readonly retention?: RetentionPolicy;
  /** Events kept for `Last-Event-ID` replay (default: the node's). */
  readonly eventReplayCapacity?: number;
  /** Also called with every log line (they are kept in `logs` either way). */
  readonly onLog?: (level: string, message: string, fields?: object) => void;
}

/** Starts a node (d = `dim`, default 6) in a new temporary directory and serves its API. */
export async function startApiNode(options: ApiNodeOptions = {}): Promise<ApiNode> {
  const dir = await Deno.makeTempDir({ prefix: "fedagg-http-" });
  const ids: NodeIdentity[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(await createIdentity(`${dir}/n${i}`, rngFor("http", "id", i)));
  }
  let file = newRosterFile({
    ...DEFAULT_PARAMETERS,
    federation: "http-test",
    dim: options.dim ?? 6,
    maxWeight: options.maxWeight ?? 10,
    // Pinned (not the default): the roster hash, hence the leader schedule tests rely on.
    clip: 1,
    ...(options.layout === undefined ? {} : { layout: options.layout }),
  });
  for (const id of ids) file = addMember(file, id.card([]));
  const roster = rosterOf(file);
  const self = ids[0];
  if (options.decidedRound !== undefined) {
    const signers = roster.members.map((m) => ids.find((id) => id.peerId === m.id)!.signer);
    const { final: _, ...published } = await finalRound({ roster, signers }, options.decidedRound);
    await new Journal(`${dir}/n0`, roster).recordAggregate(published);
  }
  const logs: ApiNode["logs"] = [];
  const log = (level: string, message: string, fields?: object) => {
    logs.push({ level, message, fields });
    options.onLog?.(level, message, fields);
  };
  const node = await FedaggNode.start({
    dir: `${dir}/n0`,
    identity: self,
    rosterFile: file,
    roster,
    index: roster.indexOf(self.peerId)!,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    log,
    expander: inlineExpander,
    retention: options.retention,
    eventReplayCapacity: options.eventReplayCapacity,
  });
  const api = await serveApi(node, {
    hostname: "127.0.0.1",
    port: 0,
    token: TOKEN,
    limits: options.limits,
    log,
  });
  return { dir, node, api, port: Number(new URL(api.url).port), ids, logs };
}

/** Stops the API and the node and removes the directory. */
export async function stopApiNode(f: ApiNode): Promise<void> {
  await f.api.shutdown();
  await f.node.stop();
  closeUnrefdChannels();
  await Deno.remove(f.dir, { recursive: true });
}
