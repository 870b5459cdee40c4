/**
 * Where received blocks go: the Origin Private File System (one file per block, so every block
 * written is durable on its own and a reload finds it), memory, or the caller's WritableStream.
 * @packageDocumentation
 */
import { PeerKitError } from '../errors.js';
import type { OfferMessage } from './protocol.js';
import { blockCount, blockLength, sha256 } from './protocol.js';
import { randomHex } from '../util.js';
import { WorkerWriter } from './store-worker.js';

/** The OPFS folder that holds partial and received files, one sub-folder per transfer id. */
export const STORE_FOLDER = 'peerkit-transfers';
const OFFER_FILE = 'offer.json';

/** The receiving side of one transfer's bytes. */
export interface BlockStore {
  /**
   * Writes one verified block; resolves once it is stored, with a buffer of the block's size the
   * caller may fill again where the store is done with it. Takes `data`: the caller must not use
   * it again (it may be detached).
   */
  write(index: number, data: Uint8Array): Promise<ArrayBuffer | undefined>;
  /** Every block is written and verified: the result. */
  finish(): Promise<File | undefined>;
  /** Gives up: removes what was stored. */
  discard(reason: PeerKitError): Promise<void>;
  /** Stops here without finishing: what a later session can resume from stays stored. */
  leave(reason: PeerKitError): Promise<void>;
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

/** What a partial transfer kept in OPFS: the offer and the hash of each verified block. */
export interface Stored {
  hashes: Map<number, Uint8Array>;
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
 * the same block files. The second gets a folder of its own, which a reload cannot resume.
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
 * Blocks of `offer` already in OPFS, each read back and hashed again so a block torn by a crash
 * is fetched again rather than trusted. Empty when nothing is stored.
 */
export async function loadStored(folder: Directory, offer: OfferMessage, name = offer.id): Promise<Stored> {
  const hashes = new Map<number, Uint8Array>();
  let dir: Directory;
  try {
    dir = await folder.getDirectoryHandle(name);
  } catch {
    return { hashes };
  }
  const count = blockCount(offer.size, offer.blockSize);
  for await (const name of dir.keys()) {
    const index = Number(name);
    if (!/^\d+$/.test(name) || index >= count) continue;
    const file = await (await dir.getFileHandle(name)).getFile();
    if (file.size !== blockLength(index, offer.size, offer.blockSize)) continue;
    hashes.set(index, await sha256(await file.arrayBuffer()));
  }
  return { hashes };
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
 * One transfer's folder in OPFS, one file per block. Blocks are written by a worker with sync
 * access handles where the browser has them (see store-worker.ts), else on the main thread.
 */
export class OpfsStore implements BlockStore {
  private constructor(
    private readonly folder: Directory,
    private readonly dir: Directory,
    private readonly offer: OfferMessage,
    private readonly name: string,
    private readonly writer: WorkerWriter | undefined,
    /** When `offer.json` was last written. */
    private touched: number,
  ) {}

  /** Opens (or creates) folder `name` of `offer`, in `folder`, which is the one {@link opfsFolder} gives. */
  static async open(folder: Directory, offer: OfferMessage, name = offer.id): Promise<OpfsStore> {
    const dir = await folder.getDirectoryHandle(name, { create: true });
    // The worker starts while the offer is written: both are round trips to storage, and the
    // sender waits for the acceptance that follows.
    const touched = Date.now();
    const [writer] = await Promise.all([WorkerWriter.start(STORE_FOLDER, name), writeOffer(dir, offer)]);
    return new OpfsStore(folder, dir, offer, name, writer, touched);
  }

  async write(index: number, data: Uint8Array): Promise<ArrayBuffer | undefined> {
    const spare = this.writer ? await this.writer.write(String(index), data) : await writeFile(this.dir, String(index), data).then(() => data.buffer as ArrayBuffer);
    // The sweep reads the offer file's age; a transfer in progress keeps it fresh.
    if (Date.now() - this.touched > 60000) await this.touch();
    return spare;
  }

  async finish(): Promise<File> {
    await this.writer?.close();
    // All at once: each is a round trip to the browser's storage process, 1024 of them for a GiB.
    const files = Array.from({ length: blockCount(this.offer.size, this.offer.blockSize) }, async (_, i) => (await this.dir.getFileHandle(String(i))).getFile());
    const [parts] = await Promise.all([Promise.all(files), this.touch()]);
    // A File made of the block files refers to them on disk rather than copying them into memory.
    return new File(parts, this.offer.name, { type: this.offer.type, lastModified: this.offer.lastModified });
  }

  async discard(): Promise<void> {
    // A file with an open sync access handle cannot be removed: the writes in hand end first.
    await this.leave();
    await this.folder.removeEntry(this.name, { recursive: true }).catch(() => undefined);
  }

  async leave(): Promise<void> {
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
}
