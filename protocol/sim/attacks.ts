/**
 * Byzantine updates for simulations: what a poisoning member submits in place of its honest
 * update. Each generator is deterministic given its {@link Rng} (use `labelledRng`), so a
 * simulated attack is reproducible from the seed. The attacker is omniscient where the attack
 * needs it (ALIE and IPM read every honest update), the strongest case the literature assumes.
 *
 * - `scale`: λ·u, the member's own honest update u scaled (a boosted or "model replacement"
 *   update; λ = 1000 is the example);
 * - `signflip`: −λ·u (λ = 1: the plain sign flip);
 * - `noise`: a fresh N(0, std²) vector, replacing the update (the "Gaussian" Byzantine workers
 *   of Blanchard et al., NeurIPS 2017, arXiv:1703.02757);
 * - `alie`: "A little is enough" (Baruch, Baruch, Goldberg, NeurIPS 2019, arXiv:1902.06156):
 *   every attacker sends μ − z·σ, μ and σ the coordinate-wise mean and (population) standard
 *   deviation of the honest updates, z = Φ⁻¹((n − s)/n) with s = ⌊n/2 + 1⌋ − f for n members of
 *   whom f attack (or a given z): close enough to the honest cloud to pass median- and
 *   distance-based rules, and all on one side;
 * - `ipm`: inner product manipulation (Xie, Koyejo, Gupta, "Fall of Empires: Breaking
 *   Byzantine-tolerant SGD by Inner Product Manipulation", UAI 2019 / PMLR 115 2020,
 *   arXiv:1903.03936): every attacker sends −ε·μ, pulling the aggregate's inner product with the
 *   true mean towards or below zero.
 *
 * Gaussian draws use Box–Muller on 53-bit uniforms from the Rng; `Math.log`/`Math.cos` are not
 * specified to the bit across JavaScript engines, so the noise is reproducible on one engine,
 * which is all a simulation needs (the robust rules themselves are exact).
 *
 * @module
 */
import type { Rng } from "../crypto/random.ts";
import { erfcInverse } from "../dp/normal.ts";

/** The attacks, by name (`--attack` in the simulator). */
export type AttackKind = "scale" | "signflip" | "noise" | "alie" | "ipm";

/** One attack and its parameters. */
export type Attack =
  | { readonly kind: "scale"; readonly lambda: number }
  | { readonly kind: "signflip"; readonly lambda?: number }
  | { readonly kind: "noise"; readonly std: number }
  | { readonly kind: "alie"; readonly z?: number }
  | { readonly kind: "ipm"; readonly epsilon: number };

/** The attack kinds, in the order the docs list them. */
export const ATTACK_KINDS: readonly AttackKind[] = ["scale", "signflip", "noise", "alie", "ipm"];

/**
 * Each attack with the parameters the simulator uses unless told otherwise: scale λ = 1000,
 * signflip λ = 1, noise std = 1, ALIE with the paper's z, IPM ε = 0.5.
 */
export function defaultAttack(kind: AttackKind): Attack {
  switch (kind) {
    case "scale":
      return { kind, lambda: 1000 };
    case "signflip":
      return { kind, lambda: 1 };
    case "noise":
      return { kind, std: 1 };
    case "alie":
      return { kind };
    case "ipm":
      return { kind, epsilon: 0.5 };
    default:
      throw new RangeError(
        `unknown attack ${JSON.stringify(kind)}: expected one of ${ATTACK_KINDS.join(", ")}`,
      );
  }
}

/** What the attackers know and are. */
export interface AttackInput {
  /** The honest members' updates (all of one length d); ALIE and IPM need at least one. */
  readonly honest: readonly Float64Array[];
  /** Each attacker's own honest update (what it would have sent), length d: one per attacker. */
  readonly own: readonly Float64Array[];
}

/**
 * Φ⁻¹(p), the standard normal quantile, for p in (0, 1): −√2·erfc⁻¹(2p) below 1/2 mirrored
 * above. Refuses (RangeError) p outside (0, 1).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: ${p} is not in (0, 1)`);
  return p <= 0.5 ? -Math.SQRT2 * erfcInverse(2 * p) : Math.SQRT2 * erfcInverse(2 * (1 - p));
}

/**
 * ALIE's z for n members of whom f attack (Baruch et al. 2019, Algorithm 1):
 * s = ⌊n/2 + 1⌋ − f, z = Φ⁻¹((n − s)/n). Refuses (RangeError) f outside [1, n) or an s that
 * leaves (n − s)/n outside (0, 1).
 */
export function alieZ(n: number, f: number): number {
  if (!(Number.isSafeInteger(n) && Number.isSafeInteger(f) && f >= 1 && f < n)) {
    throw new RangeError(`alieZ: need 1 ≤ f < n, got n = ${n}, f = ${f}`);
  }
  const s = Math.floor(n / 2 + 1) - f;
  return normalQuantile((n - s) / n);
}

/**
 * A standard normal draw source: Box–Muller on 53-bit uniforms in (0, 1], each from 8 bytes of
 * the Rng (big-endian, the top 21 bits of the first word and the 32 of the second), read from
 * the Rng 4 KiB at a time.
 */
export class GaussianSource {
  readonly #rng: Rng;
  #buffer: Uint8Array = new Uint8Array(0);
  #offset = 0;
  #spare: number | undefined;

  /** Draws from `rng`. */
  constructor(rng: Rng) {
    this.#rng = rng;
  }

  #uniform(): number {
    if (this.#offset === this.#buffer.length) {
      this.#buffer = this.#rng(4096);
      this.#offset = 0;
    }
    const b = this.#buffer;
    const o = this.#offset;
    this.#offset += 8;
    const hi = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
    const lo = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
    // 21 + 32 = 53 random bits k; (k + 1)/2^53 is exact and in (0, 1], so the log is finite
    return ((hi >>> 11) * 2 ** 32 + lo + 1) / 2 ** 53;
  }

  /** One N(0, 1) draw. */
  next(): number {
    if (this.#spare !== undefined) {
      const s = this.#spare;
      this.#spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.#uniform()));
    const theta = 2 * Math.PI * this.#uniform();
    this.#spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new RangeError(`attack: ${what}`);
}

function meanAndStd(vectors: readonly Float64Array[], d: number): [Float64Array, Float64Array] {
  const mu = new Float64Array(d);
  for (const v of vectors) for (let j = 0; j < d; j++) mu[j] += v[j];
  for (let j = 0; j < d; j++) mu[j] /= vectors.length;
  const sd = new Float64Array(d);
  for (const v of vectors) {
    for (let j = 0; j < d; j++) sd[j] += (v[j] - mu[j]) ** 2;
  }
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j] / vectors.length);
  return [mu, sd];
}

/**
 * The updates the attackers submit, one per entry of `input.own`, each a fresh vector (inputs
 * are not modified). Deterministic given `rng` (only `noise` reads it). Refuses (RangeError):
 * no attackers, vectors of different lengths, a non-finite parameter, a negative std, ALIE or
 * IPM without honest updates, ALIE's default z where it is undefined (see {@link alieZ}).
 */
export function attackUpdates(attack: Attack, input: AttackInput, rng: Rng): Float64Array[] {
  const { honest, own } = input;
  check(own.length >= 1, "no attackers");
  const d = own[0].length;
  check(
    [...honest, ...own].every((v) => v instanceof Float64Array && v.length === d),
    `every update must be a Float64Array of length ${d}`,
  );
  switch (attack.kind) {
    case "scale":
    case "signflip": {
      const lambda = attack.kind === "scale" ? attack.lambda : -(attack.lambda ?? 1);
      check(Number.isFinite(lambda), `λ must be finite, got ${lambda}`);
      return own.map((u) => u.map((x) => lambda * x));
    }
    case "noise": {
      check(Number.isFinite(attack.std) && attack.std >= 0, `std must be ≥ 0, got ${attack.std}`);
      const gauss = new GaussianSource(rng);
      return own.map(() => Float64Array.from({ length: d }, () => attack.std * gauss.next()));
    }
    case "alie": {
      check(honest.length >= 1, "ALIE needs the honest updates");
      const z = attack.z ?? alieZ(honest.length + own.length, own.length);
      check(Number.isFinite(z), `z must be finite, got ${z}`);
      const [mu, sd] = meanAndStd(honest, d);
      const crafted = mu.map((m, j) => m - z * sd[j]);
      return own.map(() => crafted.slice());
    }
    case "ipm": {
      check(honest.length >= 1, "IPM needs the honest updates");
      check(Number.isFinite(attack.epsilon), `ε must be finite, got ${attack.epsilon}`);
      const [mu] = meanAndStd(honest, d);
      const crafted = mu.map((m) => -attack.epsilon * m);
      return own.map(() => crafted.slice());
    }
  }
}
