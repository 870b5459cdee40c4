/**
 * A Room member's SFrame base key (`media: 'sfu'` with a `secret`): derived from the room secret
 * and 32 fresh random bytes the member draws for each key epoch and sends, sealed, to each other
 * member. Both are needed: the random bytes make every epoch's key new (a member who left, or
 * joined later, never holds it), the secret binds it to the room. docs/protocol.md has the
 * normative text and test vectors.
 * @packageDocumentation
 */

const encoder = new TextEncoder();

/** Bytes of key material a member draws per epoch. */
export const SENDER_KEY_MATERIAL_BYTES = 32;

/**
 * `base_key = HKDF-SHA-256(salt = SHA-256(UTF-8(JSON ["peerkit/1 sframe", room, secret])),
 * IKM = material, info = UTF-8("peerkit/1 sframe-key " + kid), L = 32)`. SFrame then derives the
 * AES key and nonce salt from `base_key` and the key id (RFC 9605 section 4.4.2).
 */
export async function deriveSenderKey(secret: string, room: string, kid: number, material: Uint8Array): Promise<Uint8Array> {
  const salt = await crypto.subtle.digest('SHA-256', encoder.encode(JSON.stringify(['peerkit/1 sframe', room, secret])));
  const ikm = await crypto.subtle.importKey('raw', material.slice(), 'HKDF', false, ['deriveBits']);
  const info = encoder.encode(`peerkit/1 sframe-key ${kid}`);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, ikm, 256));
}

/** Reads lower-case hex (as `toHex` writes it) back into bytes. */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
