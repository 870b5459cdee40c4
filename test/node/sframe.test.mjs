// SFrame (RFC 9605) against the RFC's own test vectors, and the key store's overlap and replay
// rules with a fake clock. Run after `npm run --silent build`: it imports from dist/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clearBytes, openFrame, sealFrame } from '../../dist/e2ee/codec.js';
import { KeyStore } from '../../dist/e2ee/key-store.js';
import { parseToWorker } from '../../dist/e2ee/messages.js';
import { decodeHeader, deriveKeyMaterial, encodeHeader, encryptFrame, deriveKey, keyScheduleLabels, nonceFor } from '../../dist/e2ee/sframe.js';

// Copied as data from RFC 9605, Appendix C (https://www.rfc-editor.org/rfc/rfc9605#appendix-C):
// C.1 "Header Encoding/Decoding" (every case) and C.3 "SFrame Encryption/Decryption" (the
// AES-GCM suites 0x0004 and 0x0005). Taken from the RFC's source, the include files
// test-vectors/header.md and test-vectors/sframe.md at commit f6868b8 (the RFC as published) of
// https://github.com/sframe-wg/sframe, line breaks inside values removed as C says.
const HEADER_VECTORS = [
  ['0x0000000000000000', '0x0000000000000000', '00'],
  ['0x0000000000000000', '0x0000000000000001', '01'],
  ['0x0000000000000000', '0x00000000000000ff', '08ff'],
  ['0x0000000000000000', '0x0000000000000100', '090100'],
  ['0x0000000000000000', '0x000000000000ffff', '09ffff'],
  ['0x0000000000000000', '0x0000000000010000', '0a010000'],
  ['0x0000000000000000', '0x0000000000ffffff', '0affffff'],
  ['0x0000000000000000', '0x0000000001000000', '0b01000000'],
  ['0x0000000000000000', '0x00000000ffffffff', '0bffffffff'],
  ['0x0000000000000000', '0x0000000100000000', '0c0100000000'],
  ['0x0000000000000000', '0x000000ffffffffff', '0cffffffffff'],
  ['0x0000000000000000', '0x0000010000000000', '0d010000000000'],
  ['0x0000000000000000', '0x0000ffffffffffff', '0dffffffffffff'],
  ['0x0000000000000000', '0x0001000000000000', '0e01000000000000'],
  ['0x0000000000000000', '0x00ffffffffffffff', '0effffffffffffff'],
  ['0x0000000000000000', '0x0100000000000000', '0f0100000000000000'],
  ['0x0000000000000000', '0xffffffffffffffff', '0fffffffffffffffff'],
  ['0x0000000000000001', '0x0000000000000000', '10'],
  ['0x0000000000000001', '0x0000000000000001', '11'],
  ['0x0000000000000001', '0x00000000000000ff', '18ff'],
  ['0x0000000000000001', '0x0000000000000100', '190100'],
  ['0x0000000000000001', '0x000000000000ffff', '19ffff'],
  ['0x0000000000000001', '0x0000000000010000', '1a010000'],
  ['0x0000000000000001', '0x0000000000ffffff', '1affffff'],
  ['0x0000000000000001', '0x0000000001000000', '1b01000000'],
  ['0x0000000000000001', '0x00000000ffffffff', '1bffffffff'],
  ['0x0000000000000001', '0x0000000100000000', '1c0100000000'],
  ['0x0000000000000001', '0x000000ffffffffff', '1cffffffffff'],
  ['0x0000000000000001', '0x0000010000000000', '1d010000000000'],
  ['0x0000000000000001', '0x0000ffffffffffff', '1dffffffffffff'],
  ['0x0000000000000001', '0x0001000000000000', '1e01000000000000'],
  ['0x0000000000000001', '0x00ffffffffffffff', '1effffffffffffff'],
  ['0x0000000000000001', '0x0100000000000000', '1f0100000000000000'],
  ['0x0000000000000001', '0xffffffffffffffff', '1fffffffffffffffff'],
  ['0x00000000000000ff', '0x0000000000000000', '80ff'],
  ['0x00000000000000ff', '0x0000000000000001', '81ff'],
  ['0x00000000000000ff', '0x00000000000000ff', '88ffff'],
  ['0x00000000000000ff', '0x0000000000000100', '89ff0100'],
  ['0x00000000000000ff', '0x000000000000ffff', '89ffffff'],
  ['0x00000000000000ff', '0x0000000000010000', '8aff010000'],
  ['0x00000000000000ff', '0x0000000000ffffff', '8affffffff'],
  ['0x00000000000000ff', '0x0000000001000000', '8bff01000000'],
  ['0x00000000000000ff', '0x00000000ffffffff', '8bffffffffff'],
  ['0x00000000000000ff', '0x0000000100000000', '8cff0100000000'],
  ['0x00000000000000ff', '0x000000ffffffffff', '8cffffffffffff'],
  ['0x00000000000000ff', '0x0000010000000000', '8dff010000000000'],
  ['0x00000000000000ff', '0x0000ffffffffffff', '8dffffffffffffff'],
  ['0x00000000000000ff', '0x0001000000000000', '8eff01000000000000'],
  ['0x00000000000000ff', '0x00ffffffffffffff', '8effffffffffffffff'],
  ['0x00000000000000ff', '0x0100000000000000', '8fff0100000000000000'],
  ['0x00000000000000ff', '0xffffffffffffffff', '8fffffffffffffffffff'],
  ['0x0000000000000100', '0x0000000000000000', '900100'],
  ['0x0000000000000100', '0x0000000000000001', '910100'],
  ['0x0000000000000100', '0x00000000000000ff', '980100ff'],
  ['0x0000000000000100', '0x0000000000000100', '9901000100'],
  ['0x0000000000000100', '0x000000000000ffff', '990100ffff'],
  ['0x0000000000000100', '0x0000000000010000', '9a0100010000'],
  ['0x0000000000000100', '0x0000000000ffffff', '9a0100ffffff'],
  ['0x0000000000000100', '0x0000000001000000', '9b010001000000'],
  ['0x0000000000000100', '0x00000000ffffffff', '9b0100ffffffff'],
  ['0x0000000000000100', '0x0000000100000000', '9c01000100000000'],
  ['0x0000000000000100', '0x000000ffffffffff', '9c0100ffffffffff'],
  ['0x0000000000000100', '0x0000010000000000', '9d0100010000000000'],
  ['0x0000000000000100', '0x0000ffffffffffff', '9d0100ffffffffffff'],
  ['0x0000000000000100', '0x0001000000000000', '9e010001000000000000'],
  ['0x0000000000000100', '0x00ffffffffffffff', '9e0100ffffffffffffff'],
  ['0x0000000000000100', '0x0100000000000000', '9f01000100000000000000'],
  ['0x0000000000000100', '0xffffffffffffffff', '9f0100ffffffffffffffff'],
  ['0x000000000000ffff', '0x0000000000000000', '90ffff'],
  ['0x000000000000ffff', '0x0000000000000001', '91ffff'],
  ['0x000000000000ffff', '0x00000000000000ff', '98ffffff'],
  ['0x000000000000ffff', '0x0000000000000100', '99ffff0100'],
  ['0x000000000000ffff', '0x000000000000ffff', '99ffffffff'],
  ['0x000000000000ffff', '0x0000000000010000', '9affff010000'],
  ['0x000000000000ffff', '0x0000000000ffffff', '9affffffffff'],
  ['0x000000000000ffff', '0x0000000001000000', '9bffff01000000'],
  ['0x000000000000ffff', '0x00000000ffffffff', '9bffffffffffff'],
  ['0x000000000000ffff', '0x0000000100000000', '9cffff0100000000'],
  ['0x000000000000ffff', '0x000000ffffffffff', '9cffffffffffffff'],
  ['0x000000000000ffff', '0x0000010000000000', '9dffff010000000000'],
  ['0x000000000000ffff', '0x0000ffffffffffff', '9dffffffffffffffff'],
  ['0x000000000000ffff', '0x0001000000000000', '9effff01000000000000'],
  ['0x000000000000ffff', '0x00ffffffffffffff', '9effffffffffffffffff'],
  ['0x000000000000ffff', '0x0100000000000000', '9fffff0100000000000000'],
  ['0x000000000000ffff', '0xffffffffffffffff', '9fffffffffffffffffffff'],
  ['0x0000000000010000', '0x0000000000000000', 'a0010000'],
  ['0x0000000000010000', '0x0000000000000001', 'a1010000'],
  ['0x0000000000010000', '0x00000000000000ff', 'a8010000ff'],
  ['0x0000000000010000', '0x0000000000000100', 'a90100000100'],
  ['0x0000000000010000', '0x000000000000ffff', 'a9010000ffff'],
  ['0x0000000000010000', '0x0000000000010000', 'aa010000010000'],
  ['0x0000000000010000', '0x0000000000ffffff', 'aa010000ffffff'],
  ['0x0000000000010000', '0x0000000001000000', 'ab01000001000000'],
  ['0x0000000000010000', '0x00000000ffffffff', 'ab010000ffffffff'],
  ['0x0000000000010000', '0x0000000100000000', 'ac0100000100000000'],
  ['0x0000000000010000', '0x000000ffffffffff', 'ac010000ffffffffff'],
  ['0x0000000000010000', '0x0000010000000000', 'ad010000010000000000'],
  ['0x0000000000010000', '0x0000ffffffffffff', 'ad010000ffffffffffff'],
  ['0x0000000000010000', '0x0001000000000000', 'ae01000001000000000000'],
  ['0x0000000000010000', '0x00ffffffffffffff', 'ae010000ffffffffffffff'],
  ['0x0000000000010000', '0x0100000000000000', 'af0100000100000000000000'],
  ['0x0000000000010000', '0xffffffffffffffff', 'af010000ffffffffffffffff'],
  ['0x0000000000ffffff', '0x0000000000000000', 'a0ffffff'],
  ['0x0000000000ffffff', '0x0000000000000001', 'a1ffffff'],
  ['0x0000000000ffffff', '0x00000000000000ff', 'a8ffffffff'],
  ['0x0000000000ffffff', '0x0000000000000100', 'a9ffffff0100'],
  ['0x0000000000ffffff', '0x000000000000ffff', 'a9ffffffffff'],
  ['0x0000000000ffffff', '0x0000000000010000', 'aaffffff010000'],
  ['0x0000000000ffffff', '0x0000000000ffffff', 'aaffffffffffff'],
  ['0x0000000000ffffff', '0x0000000001000000', 'abffffff01000000'],
  ['0x0000000000ffffff', '0x00000000ffffffff', 'abffffffffffffff'],
  ['0x0000000000ffffff', '0x0000000100000000', 'acffffff0100000000'],
  ['0x0000000000ffffff', '0x000000ffffffffff', 'acffffffffffffffff'],
  ['0x0000000000ffffff', '0x0000010000000000', 'adffffff010000000000'],
  ['0x0000000000ffffff', '0x0000ffffffffffff', 'adffffffffffffffffff'],
  ['0x0000000000ffffff', '0x0001000000000000', 'aeffffff01000000000000'],
  ['0x0000000000ffffff', '0x00ffffffffffffff', 'aeffffffffffffffffffff'],
  ['0x0000000000ffffff', '0x0100000000000000', 'afffffff0100000000000000'],
  ['0x0000000000ffffff', '0xffffffffffffffff', 'afffffffffffffffffffffff'],
  ['0x0000000001000000', '0x0000000000000000', 'b001000000'],
  ['0x0000000001000000', '0x0000000000000001', 'b101000000'],
  ['0x0000000001000000', '0x00000000000000ff', 'b801000000ff'],
  ['0x0000000001000000', '0x0000000000000100', 'b9010000000100'],
  ['0x0000000001000000', '0x000000000000ffff', 'b901000000ffff'],
  ['0x0000000001000000', '0x0000000000010000', 'ba01000000010000'],
  ['0x0000000001000000', '0x0000000000ffffff', 'ba01000000ffffff'],
  ['0x0000000001000000', '0x0000000001000000', 'bb0100000001000000'],
  ['0x0000000001000000', '0x00000000ffffffff', 'bb01000000ffffffff'],
  ['0x0000000001000000', '0x0000000100000000', 'bc010000000100000000'],
  ['0x0000000001000000', '0x000000ffffffffff', 'bc01000000ffffffffff'],
  ['0x0000000001000000', '0x0000010000000000', 'bd01000000010000000000'],
  ['0x0000000001000000', '0x0000ffffffffffff', 'bd01000000ffffffffffff'],
  ['0x0000000001000000', '0x0001000000000000', 'be0100000001000000000000'],
  ['0x0000000001000000', '0x00ffffffffffffff', 'be01000000ffffffffffffff'],
  ['0x0000000001000000', '0x0100000000000000', 'bf010000000100000000000000'],
  ['0x0000000001000000', '0xffffffffffffffff', 'bf01000000ffffffffffffffff'],
  ['0x00000000ffffffff', '0x0000000000000000', 'b0ffffffff'],
  ['0x00000000ffffffff', '0x0000000000000001', 'b1ffffffff'],
  ['0x00000000ffffffff', '0x00000000000000ff', 'b8ffffffffff'],
  ['0x00000000ffffffff', '0x0000000000000100', 'b9ffffffff0100'],
  ['0x00000000ffffffff', '0x000000000000ffff', 'b9ffffffffffff'],
  ['0x00000000ffffffff', '0x0000000000010000', 'baffffffff010000'],
  ['0x00000000ffffffff', '0x0000000000ffffff', 'baffffffffffffff'],
  ['0x00000000ffffffff', '0x0000000001000000', 'bbffffffff01000000'],
  ['0x00000000ffffffff', '0x00000000ffffffff', 'bbffffffffffffffff'],
  ['0x00000000ffffffff', '0x0000000100000000', 'bcffffffff0100000000'],
  ['0x00000000ffffffff', '0x000000ffffffffff', 'bcffffffffffffffffff'],
  ['0x00000000ffffffff', '0x0000010000000000', 'bdffffffff010000000000'],
  ['0x00000000ffffffff', '0x0000ffffffffffff', 'bdffffffffffffffffffff'],
  ['0x00000000ffffffff', '0x0001000000000000', 'beffffffff01000000000000'],
  ['0x00000000ffffffff', '0x00ffffffffffffff', 'beffffffffffffffffffffff'],
  ['0x00000000ffffffff', '0x0100000000000000', 'bfffffffff0100000000000000'],
  ['0x00000000ffffffff', '0xffffffffffffffff', 'bfffffffffffffffffffffffff'],
  ['0x0000000100000000', '0x0000000000000000', 'c00100000000'],
  ['0x0000000100000000', '0x0000000000000001', 'c10100000000'],
  ['0x0000000100000000', '0x00000000000000ff', 'c80100000000ff'],
  ['0x0000000100000000', '0x0000000000000100', 'c901000000000100'],
  ['0x0000000100000000', '0x000000000000ffff', 'c90100000000ffff'],
  ['0x0000000100000000', '0x0000000000010000', 'ca0100000000010000'],
  ['0x0000000100000000', '0x0000000000ffffff', 'ca0100000000ffffff'],
  ['0x0000000100000000', '0x0000000001000000', 'cb010000000001000000'],
  ['0x0000000100000000', '0x00000000ffffffff', 'cb0100000000ffffffff'],
  ['0x0000000100000000', '0x0000000100000000', 'cc01000000000100000000'],
  ['0x0000000100000000', '0x000000ffffffffff', 'cc0100000000ffffffffff'],
  ['0x0000000100000000', '0x0000010000000000', 'cd0100000000010000000000'],
  ['0x0000000100000000', '0x0000ffffffffffff', 'cd0100000000ffffffffffff'],
  ['0x0000000100000000', '0x0001000000000000', 'ce010000000001000000000000'],
  ['0x0000000100000000', '0x00ffffffffffffff', 'ce0100000000ffffffffffffff'],
  ['0x0000000100000000', '0x0100000000000000', 'cf01000000000100000000000000'],
  ['0x0000000100000000', '0xffffffffffffffff', 'cf0100000000ffffffffffffffff'],
  ['0x000000ffffffffff', '0x0000000000000000', 'c0ffffffffff'],
  ['0x000000ffffffffff', '0x0000000000000001', 'c1ffffffffff'],
  ['0x000000ffffffffff', '0x00000000000000ff', 'c8ffffffffffff'],
  ['0x000000ffffffffff', '0x0000000000000100', 'c9ffffffffff0100'],
  ['0x000000ffffffffff', '0x000000000000ffff', 'c9ffffffffffffff'],
  ['0x000000ffffffffff', '0x0000000000010000', 'caffffffffff010000'],
  ['0x000000ffffffffff', '0x0000000000ffffff', 'caffffffffffffffff'],
  ['0x000000ffffffffff', '0x0000000001000000', 'cbffffffffff01000000'],
  ['0x000000ffffffffff', '0x00000000ffffffff', 'cbffffffffffffffffff'],
  ['0x000000ffffffffff', '0x0000000100000000', 'ccffffffffff0100000000'],
  ['0x000000ffffffffff', '0x000000ffffffffff', 'ccffffffffffffffffffff'],
  ['0x000000ffffffffff', '0x0000010000000000', 'cdffffffffff010000000000'],
  ['0x000000ffffffffff', '0x0000ffffffffffff', 'cdffffffffffffffffffffff'],
  ['0x000000ffffffffff', '0x0001000000000000', 'ceffffffffff01000000000000'],
  ['0x000000ffffffffff', '0x00ffffffffffffff', 'ceffffffffffffffffffffffff'],
  ['0x000000ffffffffff', '0x0100000000000000', 'cfffffffffff0100000000000000'],
  ['0x000000ffffffffff', '0xffffffffffffffff', 'cfffffffffffffffffffffffffff'],
  ['0x0000010000000000', '0x0000000000000000', 'd0010000000000'],
  ['0x0000010000000000', '0x0000000000000001', 'd1010000000000'],
  ['0x0000010000000000', '0x00000000000000ff', 'd8010000000000ff'],
  ['0x0000010000000000', '0x0000000000000100', 'd90100000000000100'],
  ['0x0000010000000000', '0x000000000000ffff', 'd9010000000000ffff'],
  ['0x0000010000000000', '0x0000000000010000', 'da010000000000010000'],
  ['0x0000010000000000', '0x0000000000ffffff', 'da010000000000ffffff'],
  ['0x0000010000000000', '0x0000000001000000', 'db01000000000001000000'],
  ['0x0000010000000000', '0x00000000ffffffff', 'db010000000000ffffffff'],
  ['0x0000010000000000', '0x0000000100000000', 'dc0100000000000100000000'],
  ['0x0000010000000000', '0x000000ffffffffff', 'dc010000000000ffffffffff'],
  ['0x0000010000000000', '0x0000010000000000', 'dd010000000000010000000000'],
  ['0x0000010000000000', '0x0000ffffffffffff', 'dd010000000000ffffffffffff'],
  ['0x0000010000000000', '0x0001000000000000', 'de01000000000001000000000000'],
  ['0x0000010000000000', '0x00ffffffffffffff', 'de010000000000ffffffffffffff'],
  ['0x0000010000000000', '0x0100000000000000', 'df0100000000000100000000000000'],
  ['0x0000010000000000', '0xffffffffffffffff', 'df010000000000ffffffffffffffff'],
  ['0x0000ffffffffffff', '0x0000000000000000', 'd0ffffffffffff'],
  ['0x0000ffffffffffff', '0x0000000000000001', 'd1ffffffffffff'],
  ['0x0000ffffffffffff', '0x00000000000000ff', 'd8ffffffffffffff'],
  ['0x0000ffffffffffff', '0x0000000000000100', 'd9ffffffffffff0100'],
  ['0x0000ffffffffffff', '0x000000000000ffff', 'd9ffffffffffffffff'],
  ['0x0000ffffffffffff', '0x0000000000010000', 'daffffffffffff010000'],
  ['0x0000ffffffffffff', '0x0000000000ffffff', 'daffffffffffffffffff'],
  ['0x0000ffffffffffff', '0x0000000001000000', 'dbffffffffffff01000000'],
  ['0x0000ffffffffffff', '0x00000000ffffffff', 'dbffffffffffffffffffff'],
  ['0x0000ffffffffffff', '0x0000000100000000', 'dcffffffffffff0100000000'],
  ['0x0000ffffffffffff', '0x000000ffffffffff', 'dcffffffffffffffffffffff'],
  ['0x0000ffffffffffff', '0x0000010000000000', 'ddffffffffffff010000000000'],
  ['0x0000ffffffffffff', '0x0000ffffffffffff', 'ddffffffffffffffffffffffff'],
  ['0x0000ffffffffffff', '0x0001000000000000', 'deffffffffffff01000000000000'],
  ['0x0000ffffffffffff', '0x00ffffffffffffff', 'deffffffffffffffffffffffffff'],
  ['0x0000ffffffffffff', '0x0100000000000000', 'dfffffffffffff0100000000000000'],
  ['0x0000ffffffffffff', '0xffffffffffffffff', 'dfffffffffffffffffffffffffffff'],
  ['0x0001000000000000', '0x0000000000000000', 'e001000000000000'],
  ['0x0001000000000000', '0x0000000000000001', 'e101000000000000'],
  ['0x0001000000000000', '0x00000000000000ff', 'e801000000000000ff'],
  ['0x0001000000000000', '0x0000000000000100', 'e9010000000000000100'],
  ['0x0001000000000000', '0x000000000000ffff', 'e901000000000000ffff'],
  ['0x0001000000000000', '0x0000000000010000', 'ea01000000000000010000'],
  ['0x0001000000000000', '0x0000000000ffffff', 'ea01000000000000ffffff'],
  ['0x0001000000000000', '0x0000000001000000', 'eb0100000000000001000000'],
  ['0x0001000000000000', '0x00000000ffffffff', 'eb01000000000000ffffffff'],
  ['0x0001000000000000', '0x0000000100000000', 'ec010000000000000100000000'],
  ['0x0001000000000000', '0x000000ffffffffff', 'ec01000000000000ffffffffff'],
  ['0x0001000000000000', '0x0000010000000000', 'ed01000000000000010000000000'],
  ['0x0001000000000000', '0x0000ffffffffffff', 'ed01000000000000ffffffffffff'],
  ['0x0001000000000000', '0x0001000000000000', 'ee0100000000000001000000000000'],
  ['0x0001000000000000', '0x00ffffffffffffff', 'ee01000000000000ffffffffffffff'],
  ['0x0001000000000000', '0x0100000000000000', 'ef010000000000000100000000000000'],
  ['0x0001000000000000', '0xffffffffffffffff', 'ef01000000000000ffffffffffffffff'],
  ['0x00ffffffffffffff', '0x0000000000000000', 'e0ffffffffffffff'],
  ['0x00ffffffffffffff', '0x0000000000000001', 'e1ffffffffffffff'],
  ['0x00ffffffffffffff', '0x00000000000000ff', 'e8ffffffffffffffff'],
  ['0x00ffffffffffffff', '0x0000000000000100', 'e9ffffffffffffff0100'],
  ['0x00ffffffffffffff', '0x000000000000ffff', 'e9ffffffffffffffffff'],
  ['0x00ffffffffffffff', '0x0000000000010000', 'eaffffffffffffff010000'],
  ['0x00ffffffffffffff', '0x0000000000ffffff', 'eaffffffffffffffffffff'],
  ['0x00ffffffffffffff', '0x0000000001000000', 'ebffffffffffffff01000000'],
  ['0x00ffffffffffffff', '0x00000000ffffffff', 'ebffffffffffffffffffffff'],
  ['0x00ffffffffffffff', '0x0000000100000000', 'ecffffffffffffff0100000000'],
  ['0x00ffffffffffffff', '0x000000ffffffffff', 'ecffffffffffffffffffffffff'],
  ['0x00ffffffffffffff', '0x0000010000000000', 'edffffffffffffff010000000000'],
  ['0x00ffffffffffffff', '0x0000ffffffffffff', 'edffffffffffffffffffffffffff'],
  ['0x00ffffffffffffff', '0x0001000000000000', 'eeffffffffffffff01000000000000'],
  ['0x00ffffffffffffff', '0x00ffffffffffffff', 'eeffffffffffffffffffffffffffff'],
  ['0x00ffffffffffffff', '0x0100000000000000', 'efffffffffffffff0100000000000000'],
  ['0x00ffffffffffffff', '0xffffffffffffffff', 'efffffffffffffffffffffffffffffff'],
  ['0x0100000000000000', '0x0000000000000000', 'f00100000000000000'],
  ['0x0100000000000000', '0x0000000000000001', 'f10100000000000000'],
  ['0x0100000000000000', '0x00000000000000ff', 'f80100000000000000ff'],
  ['0x0100000000000000', '0x0000000000000100', 'f901000000000000000100'],
  ['0x0100000000000000', '0x000000000000ffff', 'f90100000000000000ffff'],
  ['0x0100000000000000', '0x0000000000010000', 'fa0100000000000000010000'],
  ['0x0100000000000000', '0x0000000000ffffff', 'fa0100000000000000ffffff'],
  ['0x0100000000000000', '0x0000000001000000', 'fb010000000000000001000000'],
  ['0x0100000000000000', '0x00000000ffffffff', 'fb0100000000000000ffffffff'],
  ['0x0100000000000000', '0x0000000100000000', 'fc01000000000000000100000000'],
  ['0x0100000000000000', '0x000000ffffffffff', 'fc0100000000000000ffffffffff'],
  ['0x0100000000000000', '0x0000010000000000', 'fd0100000000000000010000000000'],
  ['0x0100000000000000', '0x0000ffffffffffff', 'fd0100000000000000ffffffffffff'],
  ['0x0100000000000000', '0x0001000000000000', 'fe010000000000000001000000000000'],
  ['0x0100000000000000', '0x00ffffffffffffff', 'fe0100000000000000ffffffffffffff'],
  ['0x0100000000000000', '0x0100000000000000', 'ff01000000000000000100000000000000'],
  ['0x0100000000000000', '0xffffffffffffffff', 'ff0100000000000000ffffffffffffffff'],
  ['0xffffffffffffffff', '0x0000000000000000', 'f0ffffffffffffffff'],
  ['0xffffffffffffffff', '0x0000000000000001', 'f1ffffffffffffffff'],
  ['0xffffffffffffffff', '0x00000000000000ff', 'f8ffffffffffffffffff'],
  ['0xffffffffffffffff', '0x0000000000000100', 'f9ffffffffffffffff0100'],
  ['0xffffffffffffffff', '0x000000000000ffff', 'f9ffffffffffffffffffff'],
  ['0xffffffffffffffff', '0x0000000000010000', 'faffffffffffffffff010000'],
  ['0xffffffffffffffff', '0x0000000000ffffff', 'faffffffffffffffffffffff'],
  ['0xffffffffffffffff', '0x0000000001000000', 'fbffffffffffffffff01000000'],
  ['0xffffffffffffffff', '0x00000000ffffffff', 'fbffffffffffffffffffffffff'],
  ['0xffffffffffffffff', '0x0000000100000000', 'fcffffffffffffffff0100000000'],
  ['0xffffffffffffffff', '0x000000ffffffffff', 'fcffffffffffffffffffffffffff'],
  ['0xffffffffffffffff', '0x0000010000000000', 'fdffffffffffffffff010000000000'],
  ['0xffffffffffffffff', '0x0000ffffffffffff', 'fdffffffffffffffffffffffffffff'],
  ['0xffffffffffffffff', '0x0001000000000000', 'feffffffffffffffff01000000000000'],
  ['0xffffffffffffffff', '0x00ffffffffffffff', 'feffffffffffffffffffffffffffffff'],
  ['0xffffffffffffffff', '0x0100000000000000', 'ffffffffffffffffff0100000000000000'],
  ['0xffffffffffffffff', '0xffffffffffffffff', 'ffffffffffffffffffffffffffffffffff'],
];
const SFRAME_VECTORS = [
  {
    cipher_suite: '0x0004',
    kid: '0x0000000000000123',
    ctr: '0x0000000000004567',
    base_key: '000102030405060708090a0b0c0d0e0f',
    sframe_key_label: '534672616d6520312e3020536563726574206b65792000000000000001230004',
    sframe_salt_label: '534672616d6520312e30205365637265742073616c742000000000000001230004',
    sframe_secret: 'd926952ca8b7ec4a95941d1ada3a5203ceff8cceee34f574d23909eb314c40c0',
    sframe_key: 'd34f547f4ca4f9a7447006fe7fcbf768',
    sframe_salt: '75234edefe07819026751816',
    metadata: '4945544620534672616d65205747',
    nonce: '75234edefe07819026755d71',
    aad: '99012345674945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb',
  },
  {
    cipher_suite: '0x0005',
    kid: '0x0000000000000123',
    ctr: '0x0000000000004567',
    base_key: '000102030405060708090a0b0c0d0e0f',
    sframe_key_label: '534672616d6520312e3020536563726574206b65792000000000000001230005',
    sframe_salt_label: '534672616d6520312e30205365637265742073616c742000000000000001230005',
    sframe_secret: '0fc3ea6de6aac97a35f194cf9bed94d4b5230f1cb45a785c9fe5dce9c188938ab6ba005bc4c0a19181599e9d1bcf7b74aca48b60bf5e254e546d809313e083a3',
    sframe_key: 'd3e27b0d4a5ae9e55df01a70e6d4d28d969b246e2936f4b7a5d9b494da6b9633',
    sframe_salt: '84991c167b8cd23c93708ec7',
    metadata: '4945544620534672616d65205747',
    nonce: '84991c167b8cd23c9370cba0',
    aad: '99012345674945544620534672616d65205747',
    pt: '64726166742d696574662d736672616d652d656e63',
    ct: '990123456794f509d36e9beacb0e261d99c7d1e972f1fed787d4049f17ca21353c1cc24d56ceabced279',
  },
];

const SUITE_BY_ID = { '0x0004': 'AES_128_GCM_SHA256_128', '0x0005': 'AES_256_GCM_SHA512_128' };
const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (bytes) => Buffer.from(bytes).toString('hex');
const decryptFailed = { name: 'PeerKitError', code: 'DECRYPT_FAILED' };

test('every header vector of RFC 9605 C.1 encodes to its bytes and decodes to its KID and CTR', () => {
  assert.equal(HEADER_VECTORS.length, 289);
  for (const [kid, ctr, header] of HEADER_VECTORS) {
    assert.equal(toHex(encodeHeader(BigInt(kid), BigInt(ctr))), header, `kid ${kid} ctr ${ctr}`);
    const decoded = decodeHeader(hex(`${header}ff`));
    assert.deepEqual(decoded, { kid: BigInt(kid), ctr: BigInt(ctr), length: header.length / 2 });
  }
});

test('decodeHeader accepts a longer extended field than needed and rejects a truncated header', () => {
  // X=1, K=1: a two-byte KID holding 5; Y=0, C=3.
  assert.deepEqual(decodeHeader(hex('9300057a')), { kid: 5n, ctr: 3n, length: 3 });
  assert.throws(() => decodeHeader(hex('9300')), { code: 'BAD_MESSAGE' });
  assert.throws(() => decodeHeader(new Uint8Array(0)), { code: 'BAD_MESSAGE' });
  assert.throws(() => encodeHeader(-1n, 0n), { code: 'BAD_ARGUMENT' });
  assert.throws(() => encodeHeader(0n, 1n << 64n), { code: 'BAD_ARGUMENT' });
});

for (const v of SFRAME_VECTORS) {
  const suite = SUITE_BY_ID[v.cipher_suite];

  test(`${suite}: the key schedule gives RFC 9605 C.3's labels, sframe_key, sframe_salt and nonce`, async () => {
    const labels = keyScheduleLabels(suite, BigInt(v.kid));
    assert.equal(toHex(labels.key), v.sframe_key_label);
    assert.equal(toHex(labels.salt), v.sframe_salt_label);
    const material = await deriveKeyMaterial(suite, BigInt(v.kid), hex(v.base_key));
    assert.equal(toHex(material.key), v.sframe_key);
    assert.equal(toHex(material.salt), v.sframe_salt);
    assert.equal(toHex(nonceFor(material.salt, BigInt(v.ctr))), v.nonce);
  });

  test(`${suite}: encrypt gives RFC 9605 C.3's ciphertext and a key store decrypts it to the plaintext`, async () => {
    const key = await deriveKey(suite, BigInt(v.kid), hex(v.base_key));
    assert.equal(toHex(await encryptFrame(key, BigInt(v.ctr), hex(v.metadata), hex(v.pt))), v.ct);
    const store = new KeyStore(suite);
    await store.setKey(BigInt(v.kid), hex(v.base_key));
    assert.equal(toHex(await store.decrypt(hex(v.metadata), hex(v.ct))), v.pt);
  });

  test(`${suite}: a changed ciphertext byte or changed metadata is DECRYPT_FAILED; a replay is dropped`, async () => {
    const store = new KeyStore(suite);
    await store.setKey(BigInt(v.kid), hex(v.base_key));
    const altered = hex(v.ct);
    altered[altered.length - 1] ^= 1;
    await assert.rejects(store.decrypt(hex(v.metadata), altered), decryptFailed);
    await assert.rejects(store.decrypt(hex('00'), hex(v.ct)), decryptFailed);
    await store.decrypt(hex(v.metadata), hex(v.ct));
    assert.equal(await store.decrypt(hex(v.metadata), hex(v.ct)), undefined);
  });
}

/** A key store with a clock the test moves. */
function clockedStore(options = {}) {
  const clock = { now: 0 };
  const store = new KeyStore('AES_128_GCM_SHA256_128', { overlapMs: 1000, now: () => clock.now, ...options });
  return { store, clock };
}

const baseKey = (fill) => new Uint8Array(16).fill(fill);
const meta = hex('9d0123');

test('a key store encrypts with a new counter every frame and decrypts its own frames', async () => {
  const { store } = clockedStore();
  await store.setKey(7n, baseKey(1));
  const counters = [];
  for (let i = 0; i < 10; i++) {
    const frame = await store.encrypt(7n, meta, hex('aabbcc'));
    counters.push(decodeHeader(frame).ctr);
    assert.equal(toHex(await store.decrypt(meta, frame)), 'aabbcc');
  }
  assert.deepEqual(counters, [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
});

test('a key replaced under the same key id still decrypts during the overlap, and not after', async () => {
  const { store: sender } = clockedStore();
  const { store: receiver, clock } = clockedStore();
  await sender.setKey(1n, baseKey(1));
  await receiver.setKey(1n, baseKey(1));
  const oldFrames = [await sender.encrypt(1n, meta, hex('01')), await sender.encrypt(1n, meta, hex('02'))];
  await receiver.setKey(1n, baseKey(2));
  await sender.setKey(1n, baseKey(2));
  assert.equal(toHex(await receiver.decrypt(meta, await sender.encrypt(1n, meta, hex('03')))), '03');
  clock.now = 999;
  assert.equal(toHex(await receiver.decrypt(meta, oldFrames[0])), '01');
  clock.now = 1000;
  await assert.rejects(receiver.decrypt(meta, oldFrames[1]), decryptFailed);
  assert.equal(toHex(await receiver.decrypt(meta, await sender.encrypt(1n, meta, hex('04')))), '04');
});

test('a removed key stops encrypting at once and decrypting after the overlap; an unknown key id fails', async () => {
  const { store, clock } = clockedStore();
  await store.setKey(3n, baseKey(3));
  const frames = [await store.encrypt(3n, meta, hex('01')), await store.encrypt(3n, meta, hex('02'))];
  store.removeKey(3n);
  assert.equal(store.canEncrypt(3n), false);
  await assert.rejects(store.encrypt(3n, meta, hex('03')), { code: 'BAD_ARGUMENT' });
  clock.now = 500;
  assert.equal(toHex(await store.decrypt(meta, frames[0])), '01');
  clock.now = 1001;
  await assert.rejects(store.decrypt(meta, frames[1]), decryptFailed);
  await assert.rejects(store.decrypt(meta, encodeHeader(9n, 0n)), decryptFailed);
});

test('frames out of order inside the replay window decrypt; older ones and replays are dropped', async () => {
  const { store } = clockedStore({ replayWindow: 4 });
  await store.setKey(1n, baseKey(1));
  const frames = [];
  for (let i = 0; i < 8; i++) frames.push(await store.encrypt(1n, meta, Uint8Array.of(i)));
  const opened = async (i) => (await store.decrypt(meta, frames[i]))?.[0];
  assert.equal(await opened(5), 5);
  assert.equal(await opened(3), 3);
  assert.equal(await opened(3), undefined);
  assert.equal(await opened(1), undefined);
  assert.equal(await opened(7), 7);
  assert.equal(await opened(4), 4);
  assert.equal(await opened(2), undefined);
});

test('a forged frame does not move the replay window', async () => {
  const { store } = clockedStore({ replayWindow: 4 });
  await store.setKey(1n, baseKey(1));
  const real = await store.encrypt(1n, meta, hex('01'));
  const forged = Uint8Array.from([...encodeHeader(1n, 1000n), ...new Uint8Array(20)]);
  await assert.rejects(store.decrypt(meta, forged), decryptFailed);
  assert.equal(toHex(await store.decrypt(meta, real)), '01');
});

test('clearBytes keeps the VP8 frame tag (and key frame header) and the Opus TOC byte clear, nothing for other codecs', () => {
  const keyFrame = Uint8Array.of(0x50, 0x2b, 0x01, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0x00, 0x11);
  const deltaFrame = Uint8Array.of(0x31, 0x02, 0x00, 0x44, 0x55);
  assert.equal(clearBytes('video/VP8', keyFrame), 10);
  assert.equal(clearBytes('video/vp8', deltaFrame), 3);
  assert.equal(clearBytes('audio/opus', Uint8Array.of(0x78, 1, 2)), 1);
  assert.equal(clearBytes('video/VP9', keyFrame), 0);
  assert.equal(clearBytes('video/AV1', keyFrame), 0);
  assert.equal(clearBytes('video/vp8', Uint8Array.of(0x50, 1)), 2);
  assert.equal(clearBytes('audio/opus', new Uint8Array(0)), 0);
});

test('sealFrame hides the VP8 first partition size from the clear prefix, and openFrame gives the frame back', () => {
  const keyFrame = Uint8Array.of(0x50, 0x2b, 0x01, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0x00, 0x11);
  const sealedKey = sealFrame('video/VP8', keyFrame);
  // Key frame bit, version and show frame kept; a first partition of 2^19 - 1 bytes; start code and size as they were.
  assert.equal(toHex(sealedKey.prefix), 'f0ffff9d012a8002e001');
  assert.equal(toHex(sealedKey.plaintext), '502b010011');
  assert.equal(toHex(openFrame('video/vp8', sealedKey.prefix, sealedKey.plaintext)), toHex(keyFrame));
  const deltaFrame = Uint8Array.of(0x31, 0x02, 0x00, 0x44, 0x55);
  const sealedDelta = sealFrame('video/vp8', deltaFrame);
  assert.equal(toHex(sealedDelta.prefix), 'f1ffff');
  assert.equal(toHex(sealedDelta.plaintext), '3102004455');
  assert.equal(toHex(openFrame('video/vp8', sealedDelta.prefix, sealedDelta.plaintext)), toHex(deltaFrame));
  // A tag inside that is not the one outside (here a delta frame's under a key frame's prefix).
  assert.equal(openFrame('video/vp8', sealedKey.prefix, sealedDelta.plaintext), undefined);
  assert.equal(openFrame('video/vp8', sealedDelta.prefix, Uint8Array.of(0x31)), undefined);
  // Too short for a tag, and other codecs: prefix and plaintext as clearBytes cuts them.
  assert.deepEqual([...sealFrame('video/vp8', Uint8Array.of(0x50, 1)).prefix], [0x50, 1]);
  const opus = sealFrame('audio/opus', Uint8Array.of(0x78, 1, 2));
  assert.deepEqual([[...opus.prefix], [...opus.plaintext]], [[0x78], [1, 2]]);
  assert.deepEqual([...openFrame('audio/opus', opus.prefix, opus.plaintext)], [0x78, 1, 2]);
  assert.equal(sealFrame('video/VP9', keyFrame).prefix.length, 0);
});

test('the worker rejects messages that are not its own', () => {
  assert.equal(parseToWorker({ type: 'set-key', kid: 1, key: new Uint8Array(16) }), undefined);
  assert.equal(parseToWorker({ type: 'init', suite: 'AES_128_CTR_HMAC_SHA256_80', overlapMs: 0 }), undefined);
  assert.equal(parseToWorker('init'), undefined);
  assert.deepEqual(parseToWorker({ type: 'remove-key', kid: 4n }), { type: 'remove-key', kid: 4n });
});
