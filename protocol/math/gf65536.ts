/**
 * Arithmetic in GF(2^16), the field of Shamir sharing, built on the primitive polynomial
 * x^16 + x^12 + x^3 + x + 1 ({@link POLYNOMIAL}). Elements are integers 0..65535 (bit i is the
 * coefficient of x^i); addition is XOR.
 *
 * Two kinds of multiplication, for two kinds of operands:
 *
 * - {@link mul}, {@link inv} and {@link div} use log/exp tables: the memory address they read
 *   depends on the operands, so they are for PUBLIC values only (x coordinates, Lagrange
 *   coefficients, and the error decoder, which only runs after someone cheated).
 * - {@link mulTable} and {@link mulByTable} multiply a SECRET element by a public constant with
 *   no table lookup indexed by the secret and no branch on it: the constant's 16 multiples
 *   `c·x^i` are precomputed, and `a·c` is the XOR of those selected by the bits of `a` through
 *   arithmetic masks. (JavaScript gives no hard timing guarantees; this is the best a JIT-ed
 *   language offers: no secret-dependent control flow or addressing in our code.)
 *
 * Hot-path functions do not validate their arguments: passing anything but an integer in
 * 0..65535 gives an unspecified result. Functions that run once per constant ({@link mulTable},
 * {@link inv}, {@link div}) do validate.
 *
 * @module
 */

/** The field's modulus x^16 + x^12 + x^3 + x + 1, as a bit pattern (a primitive polynomial). */
export const POLYNOMIAL = 0x1100b;

/** Number of non-zero elements, the order of the multiplicative group. */
const GROUP_ORDER = 65535;

/** `EXP[k] = 2^k` for k in 0..2·65534, so that `EXP[LOG[a] + LOG[b]]` needs no reduction. */
const EXP = new Uint16Array(2 * GROUP_ORDER);
/** `LOG[a]` = discrete log of `a` to base 2, for a ≠ 0 (`LOG[0]` is meaningless). */
const LOG = new Uint16Array(GROUP_ORDER + 1);

{
  let e = 1;
  for (let k = 0; k < GROUP_ORDER; k++) {
    EXP[k] = e;
    EXP[k + GROUP_ORDER] = e;
    LOG[e] = k;
    e <<= 1;
    if (e & 0x10000) e ^= POLYNOMIAL;
  }
  if (e !== 1) throw new Error("GF(2^16) modulus is not primitive"); // cannot happen
}

/** Throws a RangeError unless `a` is an integer in 0..65535. */
function checkElement(a: number, what: string): void {
  if (!Number.isInteger(a) || a < 0 || a > 0xffff) {
    throw new RangeError(`${what} is not a GF(2^16) element (integer 0..65535): ${a}`);
  }
}

/** Sum (and difference) of two elements: XOR. Constant-time. */
export function add(a: number, b: number): number {
  return a ^ b;
}

/**
 * Product of two elements through log/exp tables. NOT constant-time: the table addresses
 * depend on both operands, and zero takes a branch. For public operands only; multiply a secret
 * with {@link mulByTable}. Arguments are not validated.
 */
export function mul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a] + LOG[b]];
}

/**
 * Multiplicative inverse of a non-zero element, through tables (NOT constant-time: public
 * values only). Refuses (RangeError) zero and anything that is not an element.
 */
export function inv(a: number): number {
  checkElement(a, "inv argument");
  if (a === 0) throw new RangeError("zero has no inverse in GF(2^16)");
  return EXP[GROUP_ORDER - LOG[a]];
}

/**
 * Quotient `a / b`, through tables (NOT constant-time: public values only). Refuses
 * (RangeError) a zero divisor and arguments that are not elements.
 */
export function div(a: number, b: number): number {
  checkElement(a, "dividend");
  checkElement(b, "divisor");
  if (b === 0) throw new RangeError("division by zero in GF(2^16)");
  if (a === 0) return 0;
  return EXP[LOG[a] + GROUP_ORDER - LOG[b]];
}

/**
 * The multiplication table of a constant `c`: entry i is `c·x^i` (that is, c times the element
 * 2^i), for i = 0..15. Feed it to {@link mulByTable}. Computed branch-free, so it is
 * constant-time in `c` as well, although `c` is meant to be public. Refuses (RangeError) a `c`
 * that is not an element.
 */
export function mulTable(c: number): Uint16Array<ArrayBuffer> {
  checkElement(c, "constant");
  const table = new Uint16Array(16);
  let t = c;
  for (let i = 0; i < 16; i++) {
    table[i] = t;
    // t·x, reduced: subtract the modulus exactly when bit 15 was set, selected by a mask.
    t = ((t << 1) ^ (POLYNOMIAL & -(t >>> 15))) & 0xffff;
  }
  return table;
}

/**
 * Product `a·c` of a secret element `a` and the constant `c` whose {@link mulTable} is `table`.
 * Constant-time in `a`: the 16 table entries are all read, in a fixed order, and combined with
 * masks derived from the bits of `a` (no secret-dependent branch or address). `a` is not
 * validated; only its low 16 bits are used. `table` must come from {@link mulTable}.
 */
export function mulByTable(a: number, table: Uint16Array): number {
  return (table[0] & -(a & 1)) ^
    (table[1] & -((a >>> 1) & 1)) ^
    (table[2] & -((a >>> 2) & 1)) ^
    (table[3] & -((a >>> 3) & 1)) ^
    (table[4] & -((a >>> 4) & 1)) ^
    (table[5] & -((a >>> 5) & 1)) ^
    (table[6] & -((a >>> 6) & 1)) ^
    (table[7] & -((a >>> 7) & 1)) ^
    (table[8] & -((a >>> 8) & 1)) ^
    (table[9] & -((a >>> 9) & 1)) ^
    (table[10] & -((a >>> 10) & 1)) ^
    (table[11] & -((a >>> 11) & 1)) ^
    (table[12] & -((a >>> 12) & 1)) ^
    (table[13] & -((a >>> 13) & 1)) ^
    (table[14] & -((a >>> 14) & 1)) ^
    (table[15] & -((a >>> 15) & 1));
}
