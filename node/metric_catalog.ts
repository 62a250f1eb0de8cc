/**
 * Every metric series the node documents (docs/operator-guide.md, "Metrics"), declared up front so
 * that each exists from start-up (at zero) and has one type and one HELP text. A new series is
 * one more entry in {@link NODE_METRICS}; its callers then use the same name with
 * `Metrics.inc`/`set`/`observe`.
 *
 * Exposure: every series here is `open` (served on the token-free `--metrics` listener too)
 * unless it says `token`. A series derived from the values of a private update (how many values
 * were clipped, anything about their magnitude) must be `token`; a series not in this catalog is
 * `token` by default (`metrics.ts`).
 *
 * @module
 */
import { type RefusalCode, type Roster, STAGES, toHex } from "../protocol/mod.ts";
import { type Labels, Metrics, type MetricSpec } from "./metrics.ts";

/** The protocol's refusal codes, each a series of `fedagg_refusals_total` from the start. */
const REFUSAL_CODES: Record<RefusalCode, true> = {
  "malformed": true,
  "oversized": true,
  "bad-signature": true,
  "wrong-session": true,
  "wrong-type": true,
  "not-member": true,
  "not-leader": true,
  "wrong-stage": true,
  "equivocation": true,
  "inconsistent-lists": true,
  "insufficient-approvals": true,
  "bad-share": true,
  "tampered-ciphertext": true,
  "wrong-length": true,
  "commitment-mismatch": true,
  "wrong-chain": true,
  "fork": true,
};

/** The API's limit refusals (`fedagg_api_refusals_total{code}`). */
const API_REFUSAL_CODES = [
  "too-many-connections",
  "busy",
  "timeout",
  "header-too-large",
  "length-required",
  "bad-request",
  "internal",
] as const;

/** The stages a machine spends time in (the terminal `final` and `failed` take none). */
export const TIMED_STAGES: readonly string[] = STAGES.filter((s) =>
  s !== "final" && s !== "failed"
);

const byCode = (codes: readonly string[]): Labels[] => codes.map((code) => ({ code }));

/** What the build and roster info series carry. */
export interface CatalogInfo {
  /** The fedagg version (deno.json's). */
  readonly version: string;
  readonly roster: Roster;
}

/** The fedagg version this code is. */
export const FEDAGG_VERSION = "0.1.0";

/**
 * The short roster hash the info series and the status show: the first 16 hex digits (64 bits)
 * of the roster hash, enough to tell two rosters apart on a dashboard.
 */
export function rosterHashPrefix(roster: Roster): string {
  return toHex(roster.hash).slice(0, 16);
}

/** The node's series; `info` fills the two info series. */
export function nodeMetricSpecs(info: CatalogInfo): MetricSpec[] {
  const open = "open" as const;
  const r = info.roster;
  return [
    // Identity of what runs.
    {
      name: "fedagg_build_info",
      type: "gauge",
      help: "Always 1: the fedagg version and the Deno runtime",
      series: [{ version: info.version, deno: Deno.version.deno }],
      exposure: open,
    },
    {
      name: "fedagg_roster_info",
      type: "gauge",
      help: "Always 1: the roster this node runs (federation, hash prefix, members, threshold, d)",
      series: [{
        federation: r.federation,
        roster_hash: rosterHashPrefix(r),
        members: String(r.members.length),
        threshold: String(r.threshold),
        dim: String(r.dim),
      }],
      exposure: open,
    },
    {
      name: "fedagg_roster_members",
      type: "gauge",
      help: "Members in the roster",
      exposure: open,
    },
    // Rounds.
    {
      name: "fedagg_current_round",
      type: "gauge",
      help: "The federation's current round as this member knows it",
      exposure: open,
    },
    {
      name: "fedagg_last_final_round",
      type: "gauge",
      help: "The newest round with a final certificate here (-1: none yet)",
      exposure: open,
    },
    // Distributed DP (0 unless the roster has a dp section).
    {
      name: "fedagg_dp_rounds_charged",
      type: "gauge",
      help: "DP rounds this member was charged for (before its masked input left; once per round)",
      exposure: open,
    },
    {
      name: "fedagg_dp_epsilon_spent",
      type: "gauge",
      help: "Privacy spent by this member: epsilon at the roster's delta",
      exposure: open,
    },
    {
      name: "fedagg_dp_epsilon_budget",
      type: "gauge",
      help: "The DP roster's total epsilon budget",
      exposure: open,
    },
    counter(
      "fedagg_dp_budget_refusals_total",
      "Updates refused because one more round would exceed the DP budget",
    ),
    counter("fedagg_updates_accepted_total", "Updates accepted from the trainer"),
    counter("fedagg_updates_withdrawn_total", "Updates the trainer withdrew"),
    counter(
      "fedagg_members_lost_total",
      "Members whose connection stayed down past the peer-loss grace (reported to the protocol)",
    ),
    {
      name: "fedagg_update_values_clipped_total",
      type: "counter",
      help: "Values of this member's accepted updates that quantization clipped to [-clip, clip]",
      // A function of the private update: never on the token-free listener.
      exposure: "token",
    },
    counter("fedagg_rounds_published_total", "Rounds whose aggregate this node verified"),
    counter("fedagg_rounds_final_total", "Rounds with a final certificate"),
    counter("fedagg_rounds_failed_total", "Rounds that failed for this node"),
    counter(
      "fedagg_rounds_outcome_unknown_total",
      "Committed rounds whose outcome this node had to ask its peers for",
    ),
    counter("fedagg_view_changes_total", "View changes (a leader stalled)"),
    counter(
      "fedagg_final_requests_total",
      "Requests for a published round's final certificate (co-signatures missing)",
    ),
    {
      name: "fedagg_round_latency_seconds",
      type: "histogram",
      help: "Time from this member's submission to the round's final certificate",
      exposure: open,
    },
    {
      name: "fedagg_stage_duration_seconds",
      type: "histogram",
      help: "Time a machine of this node spent in a stage, by role and stage",
      series: ["participant", "leader"].flatMap((role) =>
        TIMED_STAGES.map((stage) => ({ role, stage }))
      ),
      exposure: open,
    },
    // Errors.
    counter(
      "fedagg_refusals_total",
      "Inputs refused, by reason",
      byCode(Object.keys(REFUSAL_CODES)),
    ),
    counter("fedagg_internal_errors_total", "Unexpected errors caught in the protocol core"),
    counter(
      "fedagg_certificate_fetches_dropped_total",
      "Certified aggregates not fetched: too many fetches were waiting",
    ),
    // Journal.
    counter(
      "fedagg_journal_quarantined_total",
      "Journal rounds moved to journal/quarantine/ at start-up because a record was damaged",
    ),
    counter(
      "fedagg_journal_repaired_total",
      "Journal files repaired at start-up (temporaries removed, records rebuilt)",
    ),
    {
      name: "fedagg_journal_bytes",
      type: "gauge",
      help: "Bytes in the journal directory (quarantine included), as last measured",
      exposure: open,
    },
    {
      name: "fedagg_journal_rounds",
      type: "gauge",
      help: "Round directories in the journal",
      exposure: open,
    },
    counter(
      "fedagg_journal_pruned_rounds_total",
      "Ended rounds the retention policy removed or archived",
    ),
    counter(
      "fedagg_journal_disk_full_total",
      "Updates refused (507) because the journal's disk (or quota) was full",
    ),
    // Mesh.
    counter("fedagg_frames_sent_total", "Frames delivered to other members"),
    counter("fedagg_frames_received_total", "Frames received from other members"),
    counter("fedagg_bytes_sent_total", "Bytes sent (frames, gossip, bodies)"),
    counter("fedagg_bytes_received_total", "Bytes received (frames, gossip, bodies)"),
    counter("fedagg_send_failures_total", "Failed frame delivery attempts"),
    counter("fedagg_refused_peers_total", "Connections refused to non-members"),
    {
      name: "fedagg_peers_connected",
      type: "gauge",
      help: "Roster members connected",
      exposure: open,
    },
    // Process.
    {
      name: "fedagg_process_rss_bytes",
      type: "gauge",
      help: "Resident memory of the process",
      exposure: open,
    },
    {
      name: "fedagg_process_peak_rss_bytes",
      type: "gauge",
      help: "Peak resident memory of the process",
      exposure: open,
    },
    {
      name: "fedagg_process_heap_used_bytes",
      type: "gauge",
      help: "JavaScript heap in use (live objects and uncollected garbage)",
      exposure: open,
    },
    {
      name: "fedagg_process_peak_heap_used_bytes",
      type: "gauge",
      help: "Peak JavaScript heap in use, sampled every 250 ms",
      exposure: open,
    },
    {
      name: "fedagg_process_peak_external_bytes",
      type: "gauge",
      help: "Peak memory held outside the JavaScript heap (ArrayBuffers: vectors, frames), " +
        "sampled every 250 ms",
      exposure: open,
    },
    counter(
      "fedagg_protocol_seconds_total",
      "Time spent inside the protocol core's calls (its own work, mask expansion included)",
    ),
    counter(
      "fedagg_protocol_cpu_seconds_total",
      "Process CPU time (all threads) that passed during the protocol core's calls",
    ),
    counter(
      "fedagg_protocol_outputs_seconds_total",
      "Time spent handling the protocol core's outputs (journal writes, events, gossip)",
    ),
    // The trainer API.
    {
      name: "fedagg_api_connections",
      type: "gauge",
      help: "Open trainer API connections",
      exposure: open,
    },
    {
      name: "fedagg_api_uploads_in_progress",
      type: "gauge",
      help: "Update bodies being read or submitted right now",
      exposure: open,
    },
    counter(
      "fedagg_api_evictions_total",
      "Connections closed at the cap to make room (they had sent no request for a while)",
    ),
    counter("fedagg_api_accept_errors_total", "Failed accepts on the API port"),
    counter(
      "fedagg_api_refusals_total",
      "Requests and connections the API refused for its limits, by code",
      byCode(API_REFUSAL_CODES),
    ),
  ];
}

function counter(name: string, help: string, series?: readonly Labels[]): MetricSpec {
  return { name, type: "counter", help, series, exposure: "open" };
}

/** A registry holding every series of {@link nodeMetricSpecs}, the info series at 1. */
export function nodeMetrics(roster: Roster): Metrics {
  const specs = nodeMetricSpecs({ version: FEDAGG_VERSION, roster });
  const m = new Metrics(specs);
  for (const name of ["fedagg_build_info", "fedagg_roster_info"]) {
    const spec = specs.find((s) => s.name === name)!;
    m.set(name, spec.help, 1, spec.series![0]);
  }
  m.set("fedagg_roster_members", "Members in the roster", roster.members.length);
  m.set("fedagg_last_final_round", "The newest round with a final certificate here", -1);
  return m;
}
