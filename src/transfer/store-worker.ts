/**
 * A transfer's data file written off the main thread: a dedicated worker holds one
 * `FileSystemSyncAccessHandle` on it for the whole transfer and writes each block in place at
 * its offset, where `createWritable()` on the main thread writes a swap file, copies it on
 * `close()` and keeps the page's event loop busy between the two. One open file rather than a
 * file per block: in a Firefox worker, 128 MiB as 128 block files (open, write, flush, close
 * each) took 1.8 to 2.4 s and 0.9 to 1.4 CPU-s, into one open file 0.5 to 0.6 s and 0.4 to 0.5
 * CPU-s (measured on the test machine, outside the bench).
 * @packageDocumentation
 */

/** The files of one transfer: `folder/dir/data` holds the blocks, `folder/dir/records` what is in it. */
export interface WorkerFiles {
  folder: string;
  dir: string;
  data: string;
  records: string;
  /** The size of one record: the end of a record torn by a crash is cut off. */
  recordSize: number;
}

/** What the page asks: a block to write at `at` in the data file, then `record` to append to the records. */
interface WriteRequest {
  seq: number;
  at: number;
  data: ArrayBuffer;
  record: ArrayBuffer;
}

/** The page's last request: close both files, so they can be read, removed or opened again. */
interface CloseRequest {
  seq: number;
  close: true;
}

/**
 * The worker's answer: `seq` 0 says whether it holds both files (and can write at all), any
 * other `seq` that a request ended, a write's handing its buffer back to be filled again.
 */
interface WorkerReply {
  seq: number;
  ok: boolean;
  error?: string;
  data?: ArrayBuffer;
}

/**
 * How long a worker may take to open the files before the page writes block files itself. It
 * takes milliseconds; the bound is there so that a storage call that never settles makes a
 * slower transfer rather than an acceptance that never comes.
 */
const OPEN_TIMEOUT_MS = 10000;

/**
 * How long a write or close may go unanswered before the store fails, naming it: a block and its
 * record take milliseconds to flush, and a transfer whose writes never end would otherwise wait
 * for acknowledgements forever.
 */
const REPLY_TIMEOUT_MS = 30000;

/** A request the worker has not answered yet. */
interface Pending {
  resolve: (data: ArrayBuffer | undefined) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** What the worker's global scope offers; the DOM typings here are the window's. */
interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(reply: WorkerReply, transfer?: Transferable[]): void;
  navigator: Navigator;
}

/** The sync access handle's methods used here (DOM typings lag behind OPFS). */
interface SyncHandle {
  write(data: Uint8Array, options: { at: number }): number;
  getSize(): number;
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
  const describe = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  let data: SyncHandle | undefined;
  let records: SyncHandle | undefined;
  let end = 0;
  const open = async (files: WorkerFiles): Promise<void> => {
    const root = await scope.navigator.storage.getDirectory();
    const dir = await (await root.getDirectoryHandle(files.folder, { create: true })).getDirectoryHandle(files.dir, { create: true });
    const handle = async (name: string): Promise<SyncHandle> => {
      const file = await dir.getFileHandle(name, { create: true });
      return (file as unknown as { createSyncAccessHandle(): Promise<SyncHandle> }).createSyncAccessHandle();
    };
    data = await handle(files.data);
    records = await handle(files.records).catch((err: unknown) => {
      data?.close();
      throw err;
    });
    end = records.getSize() - (records.getSize() % files.recordSize);
    records.truncate(end);
  };
  const writeAll = (handle: SyncHandle, bytes: Uint8Array, at: number, what: string): void => {
    for (let done = 0; done < bytes.byteLength; ) {
      const wrote = handle.write(bytes.subarray(done), { at: at + done });
      // A full disk or quota writes nothing rather than throwing in some engines: stop, do not spin.
      if (wrote <= 0) throw new Error(`writing ${what}: no space left (${done} of ${bytes.byteLength} bytes written)`);
      done += wrote;
    }
  };
  const write = (request: WriteRequest, into: SyncHandle, index: SyncHandle): void => {
    writeAll(into, new Uint8Array(request.data), request.at, `the block at ${request.at}`);
    // The block is on disk before the record that says so: a reload re-hashes it anyway.
    into.flush();
    writeAll(index, new Uint8Array(request.record), end, 'its record');
    end += request.record.byteLength;
    index.flush();
  };
  const close = (): void => {
    data?.close();
    records?.close();
    data = records = undefined;
  };
  scope.onmessage = ({ data: files }: MessageEvent<WorkerFiles>) => {
    const fileHandle = (globalThis as unknown as { FileSystemFileHandle?: { prototype: object } }).FileSystemFileHandle;
    const usable = fileHandle !== undefined && 'createSyncAccessHandle' in fileHandle.prototype;
    (usable ? open(files) : Promise.reject(new Error('no sync access handles'))).then(
      () => scope.postMessage({ seq: 0, ok: true }),
      (err: unknown) => scope.postMessage({ seq: 0, ok: false, error: describe(err) }),
    );
    scope.onmessage = ({ data: request }: MessageEvent<WriteRequest | CloseRequest>) => {
      if ('close' in request) {
        close();
        return scope.postMessage({ seq: request.seq, ok: true });
      }
      try {
        if (!data || !records) throw new Error('the data file is closed');
        write(request, data, records);
        scope.postMessage({ seq: request.seq, ok: true, data: request.data }, [request.data]);
      } catch (err) {
        scope.postMessage({ seq: request.seq, ok: false, error: describe(err) });
      }
    };
  };
}

/**
 * Writes a transfer's data file through the worker. `start()` says whether this browser lets it;
 * if not (no Worker, a CSP without `worker-src blob:`, no sync access handles, the file held
 * elsewhere, the files not open within {@link OPEN_TIMEOUT_MS}) the caller writes on the main
 * thread instead.
 */
export class WorkerWriter {
  private seq = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly waiting = new Map<number, Pending>();

  private constructor(private readonly worker: Worker) {
    worker.onmessage = ({ data }: MessageEvent<WorkerReply>) => {
      const job = this.waiting.get(data.seq);
      if (!job) return;
      this.waiting.delete(data.seq);
      clearTimeout(job.timer);
      if (data.ok) job.resolve(data.data);
      else job.reject(new Error(data.error ?? 'the block could not be written'));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.fail(new Error(`the store worker failed: ${event.message}`));
    };
  }

  /** A writer holding `files`, or undefined where the worker cannot write (then nothing is left running). */
  static async start(files: WorkerFiles): Promise<WorkerWriter | undefined> {
    if (typeof Worker !== 'function' || typeof URL.createObjectURL !== 'function') return undefined;
    const url = URL.createObjectURL(new Blob([`(${workerMain.toString()})();`], { type: 'text/javascript' }));
    let worker: Worker;
    try {
      worker = new Worker(url, { name: 'peerkit-transfer-store' });
    } catch {
      URL.revokeObjectURL(url);
      return undefined;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ready = await new Promise<boolean>((resolve) => {
      worker.onmessage = ({ data }: MessageEvent<WorkerReply>) => resolve(data.seq === 0 && data.ok);
      worker.onerror = (event) => {
        event.preventDefault();
        resolve(false);
      };
      timer = setTimeout(() => resolve(false), OPEN_TIMEOUT_MS);
      worker.postMessage(files);
    });
    clearTimeout(timer);
    // Revoked once the worker answered, not right after the constructor: HTML resolves the URL
    // there, but engines have loaded it later (https://github.com/aragon/client/pull/1430), and a
    // worker that never loads would cost a transfer OPEN_TIMEOUT_MS.
    URL.revokeObjectURL(url);
    if (ready) return new WorkerWriter(worker);
    worker.terminate();
    return undefined;
  }

  /**
   * Writes `data` at `at` of the data file, then appends `record`; resolves once both are
   * flushed, with the buffer back. Takes `data` and `record`: each one's buffer moves to the
   * worker (and is detached here) when it spans all of it, so a block is not copied.
   */
  write(at: number, data: Uint8Array, record: Uint8Array): Promise<ArrayBuffer | undefined> {
    const own = (bytes: Uint8Array): ArrayBuffer => (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()).buffer as ArrayBuffer;
    const request: WriteRequest = { seq: 0, at, data: own(data), record: own(record) };
    return this.request(request, [request.data, request.record], `the block at byte ${at}`);
  }

  /**
   * Closes the files once the writes in hand are done, and stops the worker; later writes
   * reject. Closing again waits for the same close.
   */
  close(): Promise<void> {
    this.closing ??= this.request({ seq: 0, close: true }, [], 'closing the files')
      .catch(() => undefined)
      .then(() => this.fail(new Error('the store is closed')));
    return this.closing;
  }

  /** The worker answers in order: a close sent after the writes ends after them. */
  private request(request: WriteRequest | CloseRequest, transfer: Transferable[], what: string): Promise<ArrayBuffer | undefined> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    request.seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`the store worker did not finish ${what} within ${REPLY_TIMEOUT_MS / 1000} s`)), REPLY_TIMEOUT_MS);
      this.waiting.set(request.seq, { resolve, reject, timer });
      this.worker.postMessage(request, transfer);
    });
  }

  private fail(err: Error): void {
    this.closed = true;
    this.worker.terminate();
    for (const job of this.waiting.values()) {
      clearTimeout(job.timer);
      job.reject(err);
    }
    this.waiting.clear();
  }
}
