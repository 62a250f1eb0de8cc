/**
 * node:crypto key objects from raw 32-byte Curve25519 keys (RFC 8410 encodings). node:crypto
 * imports keys only as DER, PEM or JWK; a raw key becomes DER by prepending the fixed PKCS #8 or
 * SPKI header of its algorithm (the OIDs 1.3.101.110 for X25519 and 1.3.101.112 for Ed25519).
 *
 * @module
 */
import nodeCrypto from "node:crypto";
import { concat } from "../encoding/bytes.ts";

/** The Curve25519 algorithms, by their RFC 8410 OID's last arc. */
export type Okp = "x25519" | "ed25519";

const OID: Record<Okp, number> = { x25519: 0x6e, ed25519: 0x70 };

function pkcs8Prefix(alg: Okp): Uint8Array {
  // SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.x }, OCTET STRING { OCTET STRING (32) } }
  return Uint8Array.of(
    0x30,
    0x2e,
    0x02,
    0x01,
    0x00,
    0x30,
    0x05,
    0x06,
    0x03,
    0x2b,
    0x65,
    OID[alg],
    0x04,
    0x22,
    0x04,
    0x20,
  );
}

function spkiPrefix(alg: Okp): Uint8Array {
  // SEQUENCE { SEQUENCE { OID 1.3.101.x }, BIT STRING (0 unused bits, 32 bytes) }
  return Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, OID[alg], 0x03, 0x21, 0x00);
}

/** A private key object from a raw 32-byte key; the DER copy is wiped. RangeError on length. */
export function rawPrivateKey(alg: Okp, raw: Uint8Array): nodeCrypto.KeyObject {
  if (raw.length !== 32) throw new RangeError(`${alg} private key must be 32 bytes`);
  const der = concat(pkcs8Prefix(alg), raw);
  try {
    return nodeCrypto.createPrivateKey({
      key: Buffer.from(der.buffer),
      format: "der",
      type: "pkcs8",
    });
  } finally {
    der.fill(0);
  }
}

/** A public key object from a raw 32-byte key. RangeError on length; throws if it does not parse. */
export function rawPublicKey(alg: Okp, raw: Uint8Array): nodeCrypto.KeyObject {
  if (raw.length !== 32) throw new RangeError(`${alg} public key must be 32 bytes`);
  return nodeCrypto.createPublicKey({
    key: Buffer.from(concat(spkiPrefix(alg), raw).buffer),
    format: "der",
    type: "spki",
  });
}

/** The raw 32-byte public key of a private key object. */
export function rawPublicOf(privateKey: nodeCrypto.KeyObject): Uint8Array<ArrayBuffer> {
  const spki = nodeCrypto.createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - 32));
}
