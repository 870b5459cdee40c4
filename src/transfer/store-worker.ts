/**
 * Block files written off the main thread: a dedicated worker with `FileSystemSyncAccessHandle`,
 * which writes in place, where `createWritable()` on the main thread (Firefox) writes a swap
 * file, copies it on `close()` and keeps the page's event loop busy between the two.
 * @packageDocumentation
 */

/** One block file to write: `folder/dir/name` of the transfers' OPFS folder. */
interface WriteRequest {
  seq: number;
  folder: string;
  dir: string;
  name: string;
  data: ArrayBuffer;
}

/**
 * The worker's answer: `seq` 0 says whether it can write at all, any other `seq` that a write
 * ended, handing its buffer back to be filled again.
 */
interface WriteReply {
  seq: number;
  ok: boolean;
  error?: string;
  data?: ArrayBuffer;
}

/** What the worker's global scope offers; the DOM typings here are the window's. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<WriteRequest>) => void) | null;
  postMessage(reply: WriteReply, transfer?: Transferable[]): void;
  navigator: Navigator;
}

/** The sync access handle's methods used here (DOM typings lag behind OPFS). */
interface SyncHandle {
  write(data: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

/**
 * The worker's program. It runs from a `blob:` URL made of this function's source, so it must
 * not refer to anything outside its own body: no imports, no module constants. That keeps one
 * file for the ES modules and the CDN build alike, with nothing for a bundler to find and copy,
 * where `new Worker(new URL('./x.js', import.meta.url))` has no `import.meta` in the CDN's IIFE
 * and needs every bundler to recognise the pattern.
 */
function workerMain(): void {
  const scope = globalThis as unknown as WorkerScope;
  const dirs = new Map<string, Promise<FileSystemDirectoryHandle>>();
  const folderOf = (folder: string, dir: string): Promise<FileSystemDirectoryHandle> => {
    const key = `${folder}/${dir}`;
    let found = dirs.get(key);
    if (!found) {
      found = scope.navigator.storage
        .getDirectory()
        .then((root) => root.getDirectoryHandle(folder, { create: true }))
        .then((parent) => parent.getDirectoryHandle(dir, { create: true }));
      dirs.set(key, found);
    }
    return found;
  };
  const write = async ({ folder, dir, name, data }: WriteRequest): Promise<void> => {
    let step = 'opening the folder of';
    const parent = await folderOf(folder, dir);
    step = 'creating';
    const file = await parent.getFileHandle(name, { create: true });
    step = 'locking';
    const handle = (await (file as unknown as { createSyncAccessHandle(): Promise<SyncHandle> }).createSyncAccessHandle().catch((err: unknown) => {
      throw new Error(`${step} block file ${name}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    })) as SyncHandle;
    try {
      const bytes = new Uint8Array(data);
      for (let at = 0; at < bytes.byteLength; ) {
        const wrote = handle.write(bytes.subarray(at), { at });
        // A full disk or quota writes nothing rather than throwing in some engines: stop, do not spin.
        if (wrote <= 0) throw new Error(`writing block file ${name}: no space left (${at} of ${bytes.byteLength} bytes written)`);
        at += wrote;
      }
      handle.truncate(bytes.byteLength);
      handle.flush();
    } finally {
      handle.close();
    }
  };
  const fileHandle = (globalThis as unknown as { FileSystemFileHandle?: { prototype: object } }).FileSystemFileHandle;
  scope.postMessage({ seq: 0, ok: fileHandle !== undefined && 'createSyncAccessHandle' in fileHandle.prototype });
  // A sync access handle locks its file: a block that arrives again while its first copy is
  // being written (a resend crossing a reconnect) must wait for it, or Firefox refuses it.
  const busy = new Map<string, Promise<void>>();
  scope.onmessage = ({ data: request }) => {
    const key = `${request.folder}/${request.dir}/${request.name}`;
    const done = (busy.get(key) ?? Promise.resolve()).then(() => write(request));
    const settled = done.catch(() => undefined);
    busy.set(key, settled);
    void settled.then(() => busy.get(key) === settled && busy.delete(key));
    done.then(
      () => scope.postMessage({ seq: request.seq, ok: true, data: request.data }, [request.data]),
      (err: unknown) => scope.postMessage({ seq: request.seq, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
    );
  };
}

/**
 * Writes block files through the worker. `start()` says whether this browser lets it; if not
 * (no Worker, a CSP without `worker-src blob:`, no sync access handles) the caller writes on the
 * main thread instead.
 */
export class WorkerWriter {
  private seq = 0;
  private closed = false;
  private readonly waiting = new Map<number, { resolve: (data: ArrayBuffer | undefined) => void; reject: (err: Error) => void }>();

  private constructor(
    private readonly worker: Worker,
    private readonly folder: string,
    private readonly dir: string,
  ) {
    worker.onmessage = ({ data }: MessageEvent<WriteReply>) => {
      const job = this.waiting.get(data.seq);
      if (!job) return;
      this.waiting.delete(data.seq);
      if (data.ok) job.resolve(data.data);
      else job.reject(new Error(data.error ?? 'the block could not be written'));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.fail(new Error(`the store worker failed: ${event.message}`));
    };
  }

  /** A writer for `folder/dir`, or undefined where the worker cannot write (then nothing is left running). */
  static async start(folder: string, dir: string): Promise<WorkerWriter | undefined> {
    if (typeof Worker !== 'function' || typeof URL.createObjectURL !== 'function') return undefined;
    let worker: Worker;
    try {
      const url = URL.createObjectURL(new Blob([`(${workerMain.toString()})();`], { type: 'text/javascript' }));
      // The constructor resolves the URL at once (HTML, "Worker(scriptURL)"), so it can go now.
      worker = new Worker(url, { name: 'peerkit-transfer-store' });
      URL.revokeObjectURL(url);
    } catch {
      return undefined;
    }
    const ready = await new Promise<boolean>((resolve) => {
      worker.onmessage = ({ data }: MessageEvent<WriteReply>) => resolve(data.seq === 0 && data.ok);
      worker.onerror = (event) => {
        event.preventDefault();
        resolve(false);
      };
    });
    if (ready) return new WorkerWriter(worker, folder, dir);
    worker.terminate();
    return undefined;
  }

  /**
   * Writes `data` as the file `name`; resolves once it is flushed, with the buffer back. Takes
   * `data`: its buffer moves to the worker (and is detached here) when `data` spans all of it, so
   * a block is not copied.
   */
  write(name: string, data: Uint8Array): Promise<ArrayBuffer | undefined> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const seq = ++this.seq;
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      const request: WriteRequest = { seq, folder: this.folder, dir: this.dir, name, data: own.buffer as ArrayBuffer };
      this.worker.postMessage(request, [own.buffer]);
    });
  }

  /** Stops the worker once the writes it has are done; later writes reject. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.waiting.keys()].map((seq) => new Promise<void>((resolve) => this.whenDone(seq, resolve))));
    this.fail(new Error('the store is closed'));
  }

  private whenDone(seq: number, done: () => void): void {
    const job = this.waiting.get(seq);
    if (!job) return done();
    this.waiting.set(seq, {
      resolve: (data) => (job.resolve(data), done()),
      reject: (err) => (job.reject(err), done()),
    });
  }

  private fail(err: Error): void {
    this.closed = true;
    this.worker.terminate();
    for (const job of this.waiting.values()) job.reject(err);
    this.waiting.clear();
  }
}
