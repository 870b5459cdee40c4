import { toHex } from '../util.js';
import type { PartialBlocks, PieceMessage } from './protocol.js';

/**
 * Blocks of one transfer held in part at once. A sender sends a block's pieces in order and one
 * block at a time, so it leaves one block partly received (two while a refused block comes
 * again); past this the oldest is dropped and fetched again whole.
 */
const MAX_PARTIAL_BLOCKS = 4;
/** Buffers kept for the next blocks: a fresh buffer costs its page faults, a reused one none. */
const MAX_SPARE = 2;

/** A block being put together from its pieces: the hash they all carry and the bytes from its start. */
interface PartialBlock {
  hash: Uint8Array;
  data: Uint8Array;
  have: number;
}

/** A whole block, put together and still to be verified. */
export interface WholeBlock {
  index: number;
  hash: Uint8Array;
  data: Uint8Array;
}

/**
 * Puts blocks back together from their pieces (pure: no I/O, no hashing). What it holds of a
 * block survives a broken connection, so the sender can resume inside it.
 */
export class Assembly {
  private readonly partial = new Map<number, PartialBlock>();
  /** Blocks refused mid-way: the rest of their pieces is ignored until one comes again from byte 0. */
  private readonly refused = new Set<number>();
  private readonly spare: ArrayBuffer[] = [];

  /**
   * Takes a piece of a block `length` bytes long. It must start at or before the end of what is
   * held of its block, end inside the block and carry the same block hash as the pieces before
   * it. Returns the block once whole, `'refused'` when the piece does not fit (what was held of
   * the block goes: fetch it again whole), or undefined.
   */
  add(piece: PieceMessage, length: number): WholeBlock | 'refused' | undefined {
    const { index, offset, hash, data } = piece;
    let held = this.partial.get(index);
    if (!held && offset > 0 && this.refused.has(index)) return undefined;
    if (offset > (held?.have ?? 0) || offset + data.byteLength > length || (held && toHex(held.hash) !== toHex(hash))) {
      this.partial.delete(index);
      this.refused.add(index);
      return 'refused';
    }
    this.refused.delete(index);
    if (!held) {
      const reused = this.spare.at(-1)?.byteLength === length ? this.spare.pop() : undefined;
      held = { hash, data: reused ? new Uint8Array(reused) : new Uint8Array(length), have: 0 };
      this.partial.set(index, held);
      const oldest = this.partial.keys().next().value;
      if (this.partial.size > MAX_PARTIAL_BLOCKS && oldest !== undefined) this.partial.delete(oldest);
    }
    // Bytes before `have` are held already (a piece sent again after a break overlaps them).
    const end = offset + data.byteLength;
    if (end > held.have) {
      held.data.set(data.subarray(held.have - offset), held.have);
      held.have = end;
    }
    if (held.have < length) return undefined;
    this.partial.delete(index);
    return { index, hash: held.hash, data: held.data };
  }

  /**
   * Takes back a buffer a whole block was delivered in, once nothing refers to it any more, to
   * put a later block together in. Every byte of a block is written before it is delivered, so
   * what the buffer held before never shows.
   */
  recycle(buffer: ArrayBuffer | undefined): void {
    if (buffer && buffer.byteLength > 0 && this.spare.length < MAX_SPARE) this.spare.push(buffer);
  }

  /** How many bytes are held from the start of each block received in part, for an `accept`. */
  held(): PartialBlocks {
    return [...this.partial].filter(([, block]) => block.have > 0).map(([index, block]) => [index, block.have]);
  }
}
