/**
 * Where received blocks go: the Origin Private File System (so that a reload finds them),
 * memory, or the caller's WritableStream.
 *
 * A transfer's OPFS folder holds `offer.json`, and its blocks in one of two layouts, which a
 * reload reads both of: a `data` file with every block at its offset plus `records`, one record
 * per block written (its index and SHA-256), kept by a worker with sync access handles (see
 * store-worker.ts); or, where that worker cannot run, one file per block, named by its index.
 * @packageDocumentation
 */
import { PeerKitError } from '../errors.js';
import type { OfferMessage } from './protocol.js';
import { blockCount, blockLength, sha256 } from './protocol.js';
import { randomHex, toHex } from '../util.js';
import { WorkerWriter } from './store-worker.js';
import { BlockReader } from './reader.js';

/** The OPFS folder that holds partial and received files, one sub-folder per transfer id. */
export const STORE_FOLDER = 'peerkit-transfers';
const OFFER_FILE = 'offer.json';
const DATA_FILE = 'data';
const RECORDS_FILE = 'records';
/** A record: the block's index (32-bit, big-endian), then its SHA-256. */
const RECORD_SIZE = 36;

/** The receiving side of one transfer's bytes. */
export interface BlockStore {
  /**
   * Writes one verified block, whose SHA-256 is `hash`; resolves once it is stored, with a
   * buffer of the block's size the caller may fill again where the store is done with it. Takes
   * `data`: the caller must not use it again (it may be detached).
   */
  write(index: number, data: Uint8Array, hash: Uint8Array): Promise<ArrayBuffer | undefined>;
  /** Every block is written and verified: the result. */
  finish(): Promise<File | undefined>;
  /** Gives up: removes what was stored. */
  discard(reason: PeerKitError): Promise<void>;
  /** Stops here without finishing: what a later session can resume from stays stored. */
  leave(reason: PeerKitError): Promise<void>;
  /** Lets go of the files it holds open, keeping all it stored and its result pending: nothing more is written. */
  close(): Promise<void>;
}

/** DOM typings lag behind OPFS: the parts used here. */
interface Directory {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<Directory>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileSystemFileHandle>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterableIterator<string>;
}

/** The transfers folder of this origin's OPFS, or undefined where there is none (private windows, Node). */
export async function opfsFolder(): Promise<Directory | undefined> {
  try {
    const root = (await navigator.storage.getDirectory()) as unknown as Directory;
    return await root.getDirectoryHandle(STORE_FOLDER, { create: true });
  } catch {
    return undefined;
  }
}

async function writeFile(dir: Directory, name: string, data: Uint8Array | string): Promise<void> {
  const handle = await dir.getFileHandle(name, { create: true });
  const writable = await handle.createWritable();
  await writable.write(data as Uint8Array<ArrayBuffer> | string);
  await writable.close();
}

/** Writes the folder's `offer.json`: what the transfer is, and by its age, when it was last active. */
function writeOffer(dir: Directory, offer: OfferMessage): Promise<void> {
  return writeFile(dir, OFFER_FILE, JSON.stringify(offer));
}

/** What a partial transfer kept in OPFS: the hash of each verified block, and which are files of their own. */
export interface Stored {
  hashes: Map<number, Uint8Array>;
  /** Blocks stored as a file each (the other layout's are in the data file). */
  separate: Set<number>;
}

/** Nothing stored. */
export function nothingStored(): Stored {
  return { hashes: new Map(), separate: new Set() };
}

/** Transfer folders claimed by receptions of this page, where the Web Locks API is missing. */
const claimed = new Set<string>();

/** The OPFS folder one reception writes to, and how it gives it back. */
export interface FolderClaim {
  name: string;
  release(): void;
}

/**
 * Takes the Web Lock of folder `name` if no one holds it, and holds it until `use`'s promise
 * settles; false when someone holds it. Without Web Locks, this page's claims stand in for them.
 */
async function whileUnclaimed(name: string, use: () => Promise<unknown>): Promise<boolean> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) {
    if (claimed.has(name)) return false;
    void use();
    return true;
  }
  return new Promise<boolean>((resolve) => {
    locks
      .request(`${STORE_FOLDER}/${name}`, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock === null ? undefined : use();
      })
      .catch(() => resolve(false));
  });
}

/**
 * Claims the folder of transfer `id` for one reception, across every tab of the origin (Web
 * Locks): two receptions of the same file at once (two Rooms, two tabs) would otherwise write
 * the same files. The second gets a folder of its own, which a reload cannot resume.
 * A claimed folder is never swept.
 */
export async function claimFolder(id: string): Promise<FolderClaim> {
  for (let name = id; ; name = `${id}.${randomHex(4)}`) {
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const got = await whileUnclaimed(name, () => {
      claimed.add(name);
      return held;
    });
    if (got) {
      return {
        name,
        release: () => {
          claimed.delete(name);
          release();
        },
      };
    }
  }
}

/**
 * Blocks of `offer` already in OPFS, in either layout, each read back and hashed again so that
 * a block torn by a crash is fetched again rather than trusted. Empty when nothing is stored.
 */
export async function loadStored(folder: Directory, offer: OfferMessage, name = offer.id): Promise<Stored> {
  const stored = nothingStored();
  let dir: Directory;
  try {
    dir = await folder.getDirectoryHandle(name);
  } catch {
    return stored;
  }
  const count = blockCount(offer.size, offer.blockSize);
  for await (const name of dir.keys()) {
    const index = Number(name);
    if (!/^\d+$/.test(name) || index >= count) continue;
    const file = await (await dir.getFileHandle(name)).getFile();
    if (file.size !== blockLength(index, offer.size, offer.blockSize)) continue;
    stored.hashes.set(index, await sha256(await file.arrayBuffer()));
    stored.separate.add(index);
  }
  const records = await readFile(dir, RECORDS_FILE);
  const data = records && (await readFile(dir, DATA_FILE));
  if (!records || !data) return stored;
  const recorded = new Map<number, Uint8Array>();
  const all = new Uint8Array(await records.arrayBuffer());
  for (let at = 0; at + RECORD_SIZE <= all.byteLength; at += RECORD_SIZE) {
    const index = new DataView(all.buffer, at, 4).getUint32(0);
    if (index < count && !stored.hashes.has(index)) recorded.set(index, all.subarray(at + 4, at + RECORD_SIZE));
  }
  const reader = new BlockReader(data, offer.blockSize);
  for (const index of [...recorded.keys()].sort((a, b) => a - b)) {
    const block = await reader.read(index).catch(() => undefined);
    if (!block) continue;
    const hash = await sha256(block);
    reader.release(block);
    if (block.byteLength === blockLength(index, offer.size, offer.blockSize) && toHex(hash) === toHex(recorded.get(index) as Uint8Array)) stored.hashes.set(index, hash);
  }
  reader.close();
  return stored;
}

async function readFile(dir: Directory, name: string): Promise<File | undefined> {
  try {
    return await (await dir.getFileHandle(name)).getFile();
  } catch {
    return undefined;
  }
}

/**
 * Removes transfer folders untouched for `keepMs`: partial files nobody resumed, and received
 * files whose `File` the application had that long to save.
 */
export async function sweep(folder: Directory, keepMs: number, now = Date.now()): Promise<void> {
  const stale: string[] = [];
  for await (const name of folder.keys()) {
    try {
      const dir = await folder.getDirectoryHandle(name);
      const offer = await (await dir.getFileHandle(OFFER_FILE)).getFile();
      if (now - offer.lastModified > keepMs) stale.push(name);
    } catch {
      stale.push(name);
    }
  }
  // Under its lock: a folder a reception claimed (that may not have its offer.json yet) stays.
  const remove = (name: string): Promise<void> =>
    new Promise((resolve) => {
      const removal = (): Promise<void> => folder.removeEntry(name, { recursive: true }).then(resolve, resolve);
      void whileUnclaimed(name, removal).then((got) => got || resolve());
    });
  await Promise.all(stale.map(remove));
}

/**
 * One transfer's folder in OPFS. Blocks go to the data file through a worker with sync access
 * handles where the browser lets one run (see store-worker.ts), else each to a file of its own
 * from the main thread.
 */
export class OpfsStore implements BlockStore {
  private constructor(
    private readonly folder: Directory,
    private readonly dir: Directory,
    private readonly offer: OfferMessage,
    private readonly name: string,
    private readonly writer: WorkerWriter | undefined,
    /** Blocks stored as a file each. */
    private readonly separate: Set<number>,
    /** When `offer.json` was last written. */
    private touched: number,
  ) {}

  /**
   * Opens (or creates) folder `name` of `offer`, in `folder`, which is the one {@link opfsFolder}
   * gives; `stored` is what {@link loadStored} found there.
   */
  static async open(folder: Directory, offer: OfferMessage, name = offer.id, stored = nothingStored()): Promise<OpfsStore> {
    const dir = await folder.getDirectoryHandle(name, { create: true });
    // The worker starts while the offer is written: both are round trips to storage, and the
    // sender waits for the acceptance that follows.
    const touched = Date.now();
    const files = { folder: STORE_FOLDER, dir: name, data: DATA_FILE, records: RECORDS_FILE, recordSize: RECORD_SIZE };
    const [writer] = await Promise.all([WorkerWriter.start(files), writeOffer(dir, offer)]);
    return new OpfsStore(folder, dir, offer, name, writer, new Set(stored.separate), touched);
  }

  async write(index: number, data: Uint8Array, hash: Uint8Array): Promise<ArrayBuffer | undefined> {
    let spare: ArrayBuffer | undefined;
    if (this.writer) {
      const record = new Uint8Array(RECORD_SIZE);
      new DataView(record.buffer).setUint32(0, index);
      record.set(hash, 4);
      spare = await this.writer.write(index * this.offer.blockSize, data, record);
    } else {
      await writeFile(this.dir, String(index), data);
      this.separate.add(index);
      spare = data.buffer as ArrayBuffer;
    }
    // The sweep reads the offer file's age; a transfer in progress keeps it fresh.
    if (Date.now() - this.touched > 60000) await this.touch();
    return spare;
  }

  async finish(): Promise<File> {
    await this.writer?.close();
    const { size, blockSize } = this.offer;
    const count = blockCount(size, blockSize);
    const data = this.separate.size < count ? await (await this.dir.getFileHandle(DATA_FILE)).getFile() : undefined;
    // Runs of blocks in the data file are one slice each; the others, their own files, fetched
    // all at once: each is a round trip to the browser's storage process.
    const parts: Promise<Blob>[] = [];
    for (let i = 0; i < count; ) {
      if (this.separate.has(i)) {
        const index = i++;
        parts.push(this.dir.getFileHandle(String(index)).then((file) => file.getFile()));
        continue;
      }
      const start = i;
      while (i < count && !this.separate.has(i)) i++;
      parts.push(Promise.resolve((data as File).slice(start * blockSize, Math.min(i * blockSize, size))));
    }
    const [blobs] = await Promise.all([Promise.all(parts), this.touch()]);
    // A File made of files in OPFS refers to them on disk rather than copying them into memory.
    return new File(blobs, this.offer.name, { type: this.offer.type, lastModified: this.offer.lastModified });
  }

  async discard(): Promise<void> {
    // A file with an open sync access handle cannot be removed: the writes in hand end first.
    await this.leave();
    await this.folder.removeEntry(this.name, { recursive: true }).catch(() => undefined);
  }

  leave(): Promise<void> {
    return this.close();
  }

  async close(): Promise<void> {
    await this.writer?.close();
  }

  private async touch(): Promise<void> {
    this.touched = Date.now();
    await writeOffer(this.dir, this.offer);
  }
}

/** Blocks kept as Blobs in memory, for browsers without OPFS and files under the memory limit. */
export class MemoryStore implements BlockStore {
  private readonly blocks: Blob[] = [];

  constructor(private readonly offer: OfferMessage) {}

  /** A Blob holds a copy of its bytes, so the buffer comes back at once. */
  write(index: number, data: Uint8Array): Promise<ArrayBuffer> {
    this.blocks[index] = new Blob([data as Uint8Array<ArrayBuffer>]);
    return Promise.resolve(data.buffer as ArrayBuffer);
  }

  finish(): Promise<File> {
    return Promise.resolve(new File(this.blocks, this.offer.name, { type: this.offer.type, lastModified: this.offer.lastModified }));
  }

  discard(): Promise<void> {
    this.blocks.length = 0;
    return Promise.resolve();
  }

  /** Memory does not outlive this page's transfers: nothing to resume from. */
  leave(): Promise<void> {
    return this.discard();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Writes to the caller's stream in file order. A block that arrives ahead of a missing one (a
 * corrupted block being fetched again) waits here; the sender's window bounds how many do.
 */
export class SinkStore implements BlockStore {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly waiting = new Map<number, Uint8Array>();
  private nextIndex = 0;

  constructor(sink: WritableStream<Uint8Array>) {
    this.writer = sink.getWriter();
  }

  /** The first block the stream has not had: a sink cannot take earlier bytes again. */
  get written(): number {
    return this.nextIndex;
  }

  /** The stream keeps what it was given: no buffer comes back. */
  async write(index: number, data: Uint8Array): Promise<undefined> {
    this.waiting.set(index, data);
    for (let block = this.waiting.get(this.nextIndex); block; block = this.waiting.get(this.nextIndex)) {
      this.waiting.delete(this.nextIndex);
      this.nextIndex++;
      await this.writer.write(block);
    }
  }

  async finish(): Promise<undefined> {
    await this.writer.close();
    return undefined;
  }

  async discard(reason: PeerKitError): Promise<void> {
    this.waiting.clear();
    await this.writer.abort(reason).catch(() => undefined);
  }

  /** A sink cannot be rewound, so nothing resumes into it: the stream is aborted. */
  leave(reason: PeerKitError): Promise<void> {
    return this.discard(reason);
  }

  /** The stream stays the caller's, open. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
