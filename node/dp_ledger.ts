/**
 * A node's DP spend (`dp-budget.json` in its directory, written atomically, mode 0600): the
 * rounds charged and each one's ρ, under the roster's federation. A round is charged before this
 * member's masked input of it leaves (the node charges on the `masked` event, and again — a no-op
 * — on `committed`): a leader may count a masked input whose sender never approved, so the
 * commit is too late a point. Once per round however many views it sends in; the file outlives
 * journal retention, so the spend is never forgotten. The
 * decisions (what is spent, whether one more round fits) are the protocol's (`dp/budget.ts`).
 *
 * @module
 */
import { budgetRefusal, type DpParameters, type DpSpend, dpSpend } from "../protocol/mod.ts";
import { readFileIfExists, writeFileAtomic } from "./atomic_file.ts";
import { NodeError } from "./errors.ts";

/** The spend file's name in the node directory. */
export const DP_LEDGER_FILE = "dp-budget.json";

interface LedgerFile {
  readonly fedagg: "fedagg/dp-budget/v1";
  readonly federation: string;
  /** Charged rounds and their ρ, in charging order. */
  readonly charges: readonly { readonly round: number; readonly rho: number }[];
}

/** The spend of one node under a DP roster. */
export class DpLedger {
  readonly #path: string;
  readonly #dp: DpParameters;
  readonly #federation: string;
  readonly #charged = new Map<number, number>();
  #rhoSpent = 0;

  private constructor(path: string, dp: DpParameters, federation: string) {
    this.#path = path;
    this.#dp = dp;
    this.#federation = federation;
  }

  /**
   * The ledger of the node in `dir` (empty when it has no file yet). Refuses (NodeError
   * `dp-ledger-invalid`) a file that is not a spend record of this federation: a damaged or
   * foreign record is never silently reset (the spend would be forgotten).
   */
  static async open(dir: string, dp: DpParameters, federation: string): Promise<DpLedger> {
    const ledger = new DpLedger(`${dir}/${DP_LEDGER_FILE}`, dp, federation);
    const raw = await readFileIfExists(ledger.#path);
    if (raw === undefined) return ledger;
    const bad = (why: string) =>
      new NodeError(
        "dp-ledger-invalid",
        `${ledger.#path}: ${why}; restore it from a backup (a reset would forget the spend)`,
      );
    let file: LedgerFile;
    try {
      file = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
    } catch {
      throw bad("not JSON");
    }
    if (file?.fedagg !== "fedagg/dp-budget/v1" || !Array.isArray(file.charges)) {
      throw bad("not a DP spend record");
    }
    if (file.federation !== federation) {
      throw bad(`the spend of federation ${JSON.stringify(file.federation)}, not ${federation}`);
    }
    for (const c of file.charges) {
      if (
        !Number.isSafeInteger(c?.round) || c.round < 0 || !(c.rho > 0) ||
        !Number.isFinite(c.rho) || ledger.#charged.has(c.round)
      ) {
        throw bad(`a charge ${JSON.stringify(c)?.slice(0, 60)} is not a round and its ρ`);
      }
      ledger.#charged.set(c.round, c.rho);
      ledger.#rhoSpent += c.rho;
    }
    return ledger;
  }

  /** Whether `round` is charged already. */
  has(round: number): boolean {
    return this.#charged.has(round);
  }

  /**
   * Charges `round` (once: a round already charged costs nothing more), durably before it
   * resolves.
   */
  async charge(round: number): Promise<void> {
    if (this.#charged.has(round)) return;
    const charges = [...this.#charged].map(([r, rho]) => ({ round: r, rho }));
    charges.push({ round, rho: this.#dp.rhoPerRound });
    const file: LedgerFile = {
      fedagg: "fedagg/dp-budget/v1",
      federation: this.#federation,
      charges,
    };
    await writeFileAtomic(this.#path, JSON.stringify(file) + "\n", 0o600);
    this.#charged.set(round, this.#dp.rhoPerRound);
    this.#rhoSpent += this.#dp.rhoPerRound;
  }

  /** The spend so far (`dpSpend`). */
  spend(): DpSpend {
    return dpSpend(this.#dp, this.#rhoSpent, this.#charged.size);
  }

  /**
   * Refuses (NodeError `dp-budget-exhausted`, saying what is left) a new update for `round` when
   * one more round, after the `inFlight` rounds accepted but not charged, would exceed the
   * budget. A round already charged is always taken (it costs nothing more).
   */
  check(round: number, inFlight: number): void {
    if (this.#charged.has(round)) return;
    const why = budgetRefusal(this.#dp, this.#rhoSpent, this.#charged.size, inFlight);
    if (why !== undefined) {
      throw new NodeError("dp-budget-exhausted", `no update for round ${round}: ${why}`);
    }
  }
}
