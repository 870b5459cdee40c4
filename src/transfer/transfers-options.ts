import type { PeerKitError } from '../errors.js';
import type { IncomingTransfer } from './incoming.js';

/** Options of {@link createTransfers}; each instance keeps its own copy. */
export interface TransfersOptions {
  /** Bytes per block: the unit that is hashed, acknowledged, fetched again and resumed from. @default 1048576 (1 MiB) */
  blockSize?: number;
  /** Bytes each transfer may have sent but not yet acknowledged; bounds the receiver's memory. @default 8388608 (8 MiB) */
  windowBytes?: number;
  /** Largest file received into memory when there is no OPFS and no sink. @default 268435456 (256 MiB) */
  memoryLimit?: number;
  /** Store received files in OPFS when the browser has it. @default true */
  opfs?: boolean;
  /** Partial (and received) files in OPFS untouched this long are removed, in ms. @default 86400000 (24 h) */
  keepPartialMs?: number;
  /**
   * @internal A test hook: sees every outgoing piece message (74-byte header, then data, see
   * docs/protocol.md 11.1) of block `index` and may change it, to prove that damaged blocks are
   * fetched again.
   */
  tamper?: (index: number, message: Uint8Array) => void;
}

/** Events of a Transfers object. */
export interface TransfersEvents {
  /** The remote offers a file: `accept()` or `reject()` it. Not emitted again for a transfer already accepted here. */
  transfer: [incoming: IncomingTransfer];
  /** A malformed message from the remote, or a failure no call waits for. */
  error: [error: PeerKitError];
}
