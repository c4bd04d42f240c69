// Rulesets the service knows: an in-memory LRU (lru-cache) bounded by bytes, backed by a data
// directory so a restart (or an eviction) loses nothing. A ruleset is its input bundle (the
// canonical JSON its id hashes) and its shared compiled form (src/compile/shared.ts): workers
// answer from the compiled form and never parse. Once both are on disk, memory keeps only the
// compiled form's resident part (rule and chain tables, texts, small JSON): the input, the words
// (each worker copies them into its wasm instance) and the services answer are read back from the
// files when needed, so a loaded ruleset costs about its dump's size once, not several times.
//
// On disk a ruleset is two files:
//   `<id>.ruleset`  one header line of JSON (format, id, stats, warnings), then the bundle JSON,
//                   byte for byte what the id hashes;
//   `<id>.compiled` the shared compiled form, byte for byte (it starts with its own format and
//                   layout version; one from another build is ignored and the caller recompiles
//                   from the bundle, then persists the new one).
// At start the store only lists the directory (names → ids); a ruleset is read when first asked
// for, so a restart answers at once and no request waits on a ruleset it did not ask for.
// Writes are atomic (temp file, fsync, rename, fsync of the directory), so a crash leaves either
// the old state or the new, never half. Only names matching the id pattern are ever built into
// paths, and ids are validated before they reach this module, so no request can name a file.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { canonicalBundle } from '../ruleset.js';
import type { RulesetBundle } from '../model/contracts.js';
import { isCurrentShared, isWholeShared, residentPart, sharedSection } from '../shared-ruleset.js';

export const ID_PATTERN = /^[0-9a-f]{64}$/;
export const FORMAT = 'landfall-ruleset/1';
const FILE_PATTERN = /^([0-9a-f]{64})\.(ruleset|compiled)$/;

export interface RulesetSummaryData {
  id: string;
  stats: Record<string, unknown>;
  warnings: string[];
}

export interface StoredRuleset extends RulesetSummaryData {
  /** Bytes of the input (the summary's `bytes`), whether or not it is in memory. */
  inputBytes: number;
  /**
   * The bundle as canonical UTF-8 JSON (what the id hashes), shared with workers without copying;
   * in memory until it is on disk (always, without a data directory), then read back (readInput).
   */
  input?: SharedArrayBuffer;
  /** `<id>.ruleset` once written: the input after its header line. */
  inputFile?: string;
  /**
   * The shared compiled form; absent until compiled (a fresh upload, or a file from another build).
   * The whole form until `<id>.compiled` is written, then only its resident part.
   */
  shared?: SharedArrayBuffer;
  /** `<id>.compiled` once written: the whole form, where a resident part's words and services answer are. */
  compiledFile?: string;
}

export interface StoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface StoreOptions {
  dataDir: string | null;
  maxBytes: number;
  log: StoreLog;
}

/**
 * The bundle → the bytes workers get and the id hashes (canonical UTF-8 JSON in a SharedArrayBuffer).
 * A lenient upload leads with `"lenient":true`, so it hashes to its own id and the loader reads it
 * leniently (inputOptions).
 */
export function encodeInput(bundle: unknown, opts: { lenient?: boolean } = {}): SharedArrayBuffer {
  let canonical = canonicalBundle(bundle as RulesetBundle);
  if (opts.lenient) canonical = canonical === '{}' ? '{"lenient":true}' : `{"lenient":true,${canonical.slice(1)}`;
  // Encoded straight into shared memory: no intermediate Buffer of the whole body.
  const sab = new SharedArrayBuffer(Buffer.byteLength(canonical, 'utf8'));
  Buffer.from(sab).write(canonical, 'utf8');
  return sab;
}

/** The ruleset id of encoded input: the one hash an upload gets. */
export function idOf(input: SharedArrayBuffer): string {
  return createHash('sha256').update(new Uint8Array(input)).digest('hex');
}

const sizeOf = (e: StoredRuleset): number => Math.max(1, (e.input?.byteLength ?? 0) + (e.shared?.byteLength ?? 0));

export class RulesetStore {
  private readonly lru: LRUCache<string, StoredRuleset>;
  /** Aliased rulesets (reloaded from their source at start, not persisted): never evicted. */
  private readonly pinned = new Map<string, StoredRuleset>();
  /** The newest entry larger than the whole budget (lru-cache refuses those): kept until the next one. */
  private oversize: StoredRuleset | undefined;
  private readonly aliases = new Map<string, string>();
  private readonly writing = new Map<string, Promise<void>>();
  private readonly reading = new Map<string, Promise<StoredRuleset | undefined>>();
  /** Ids with a `.ruleset` file, from the start-up listing and every write since. */
  private readonly onDisk = new Set<string>();
  /** Entries being written (put): answered from here until they join the LRU. */
  private readonly pending = new Map<string, StoredRuleset>();
  /**
   * The big reads (resident parts, inputs), one piece at a time whatever the number of sets being
   * read: a piece is mostly first touches of fresh memory (page faults) on one of libuv's pool
   * threads, and sets read back all at once (a restart's first requests) would otherwise take
   * every pool thread, and the cores from the threads answering requests for sets already open.
   * Pieces of concurrent reads alternate, so a small set asked for behind a big one is not held
   * back until the big one is read.
   */
  private readonly reads = new OneAtATime();

  constructor(private readonly opts: StoreOptions) {
    this.lru = new LRUCache({ maxSize: Math.max(1, opts.maxBytes), sizeCalculation: sizeOf });
  }

  get size(): number {
    return this.lru.size + this.pinned.size + (this.oversize ? 1 : 0);
  }
  get memoryBytes(): number {
    let n = this.lru.calculatedSize;
    for (const e of this.pinned.values()) n += sizeOf(e);
    return n + (this.oversize ? sizeOf(this.oversize) : 0);
  }
  /** Rulesets in the data directory (read lazily). */
  get persisted(): number {
    return this.onDisk.size;
  }

  /** An alias (only `example` today) → the id it stands for; ids pass through. */
  resolve(idOrAlias: string): string | undefined {
    if (ID_PATTERN.test(idOrAlias)) return idOrAlias;
    return this.aliases.get(idOrAlias);
  }

  aliasesOf(id: string): string[] {
    return [...this.aliases].filter(([, v]) => v === id).map(([k]) => k);
  }

  setAlias(alias: string, id: string): void {
    this.aliases.set(alias, id);
    const e = this.memory(id);
    if (e) this.pin(e);
  }

  /**
   * Adds to memory and, when `persist`, to the data directory (awaited: 201 means durable): the
   * bundle once, the compiled form whenever it is new.
   */
  async put(entry: StoredRuleset, persist = true): Promise<void> {
    if (!persist || !this.opts.dataDir) return this.remember(entry);
    // While it is written the whole entry is served from `pending`, outside the budget: counting
    // its transient size would evict others for the moment before it shrinks.
    this.pending.set(entry.id, entry);
    try {
      // The resident part is copied while the thread pool writes the files (the copy is mostly
      // first touches of fresh memory, which this VM makes slow): not after them, on the way to 201.
      let resident: SharedArrayBuffer | undefined;
      const whole = entry.shared && isWholeShared(entry.shared) ? entry.shared : undefined;
      await this.persist(entry, whole ? () => (resident ??= residentPart(whole)) : undefined);
      this.slim(entry, resident);
      this.remember(entry);
    } finally {
      if (this.pending.get(entry.id) === entry) this.pending.delete(entry.id);
    }
  }

  /**
   * Once on disk, memory keeps only the compiled form's resident part; the input and the rest are
   * read back from the files (tasks already holding the whole buffers finish with them).
   */
  private slim(entry: StoredRuleset, resident?: SharedArrayBuffer): void {
    const base = join(this.opts.dataDir!, entry.id);
    entry.inputFile = `${base}.ruleset`;
    delete entry.input;
    if (entry.shared && isWholeShared(entry.shared)) {
      entry.compiledFile = `${base}.compiled`;
      entry.shared = resident ?? residentPart(entry.shared);
    }
  }

  /** The input bytes: from memory, else read from `<id>.ruleset`. */
  async readInput(entry: StoredRuleset): Promise<SharedArrayBuffer> {
    if (entry.input) return entry.input;
    if (!entry.inputFile) throw new Error(`ruleset ${entry.id} has no input in memory or on disk`);
    const fh = await open(entry.inputFile, 'r');
    try {
      const size = (await fh.stat()).size;
      const input = new SharedArrayBuffer(entry.inputBytes);
      await readFully(fh, new Uint8Array(input), size - entry.inputBytes, this.reads);
      return input;
    } finally {
      await fh.close();
    }
  }

  /** From memory, else from disk (and back into memory); concurrent reads of one id share one. */
  async get(id: string): Promise<StoredRuleset | undefined> {
    const hit = this.memory(id);
    if (hit) return hit;
    if (!this.opts.dataDir || !ID_PATTERN.test(id)) return undefined;
    let p = this.reading.get(id);
    if (!p) {
      p = this.readEntry(id).finally(() => this.reading.delete(id));
      this.reading.set(id, p);
    }
    const entry = await p;
    if (entry && !this.memory(id)) this.remember(entry);
    return this.memory(id) ?? entry;
  }

  async delete(id: string): Promise<boolean> {
    const inMemory = this.memory(id) !== undefined;
    this.lru.delete(id);
    this.pinned.delete(id);
    if (this.oversize?.id === id) this.oversize = undefined;
    for (const [alias, target] of this.aliases) if (target === id) this.aliases.delete(alias);
    let removed = false;
    if (this.opts.dataDir && ID_PATTERN.test(id)) {
      await this.writing.get(id);
      this.onDisk.delete(id);
      for (const ext of ['ruleset', 'compiled']) {
        try {
          await unlink(join(this.opts.dataDir, `${id}.${ext}`));
          if (ext === 'ruleset') removed = true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
    return inMemory || removed;
  }

  /**
   * Lists the data directory: the ids it holds (read later, on demand). Foreign files are skipped
   * with a log line (never thrown): a bad file must not keep the service from starting.
   */
  async index(): Promise<string[]> {
    const dir = this.opts.dataDir;
    if (!dir) return [];
    await mkdir(dir, { recursive: true });
    for (const name of (await readdir(dir)).sort()) {
      const m = FILE_PATTERN.exec(name);
      if (!m) {
        if (!name.startsWith('.')) this.opts.log.warn({ file: join(dir, name) }, 'skipping a file that is not a landfall ruleset');
        continue;
      }
      if (m[2] === 'ruleset') this.onDisk.add(m[1]!);
    }
    return [...this.onDisk];
  }

  private memory(id: string): StoredRuleset | undefined {
    return this.pinned.get(id) ?? this.lru.get(id) ?? (this.oversize?.id === id ? this.oversize : undefined) ?? this.pending.get(id);
  }

  private pin(entry: StoredRuleset): void {
    this.lru.delete(entry.id);
    if (this.oversize?.id === entry.id) this.oversize = undefined;
    this.pinned.set(entry.id, entry);
  }

  private remember(entry: StoredRuleset): void {
    if (this.pinned.has(entry.id) || [...this.aliases.values()].includes(entry.id)) return this.pin(entry);
    // Evicted entries stay on disk and come back on their next use.
    if (sizeOf(entry) > this.opts.maxBytes) {
      this.lru.delete(entry.id);
      this.oversize = entry;
      return;
    }
    if (this.oversize?.id === entry.id) this.oversize = undefined;
    this.lru.set(entry.id, entry);
  }

  /** `meanwhile`: run once while the first file is being written (see put). */
  private persist(entry: StoredRuleset, meanwhile?: () => void): Promise<void> {
    // Concurrent uploads of the same dump share one write; a compiled form arriving later waits for it.
    const before = this.writing.get(entry.id) ?? Promise.resolve();
    const p = before
      .then(async () => {
        const dir = this.opts.dataDir!;
        await mkdir(dir, { recursive: true });
        const base = join(dir, entry.id);
        if (!(await exists(`${base}.ruleset`))) {
          if (!entry.input) throw new Error(`ruleset ${entry.id}: no input to write`);
          const header = JSON.stringify({ format: FORMAT, id: entry.id, stats: entry.stats, warnings: entry.warnings });
          await writeAtomic(dir, `${base}.ruleset`, [Buffer.from(`${header}\n`, 'utf8'), Buffer.from(entry.input)], meanwhile);
        }
        this.onDisk.add(entry.id);
        if (entry.shared && isWholeShared(entry.shared) && !(await this.compiledCurrent(`${base}.compiled`))) {
          await writeAtomic(dir, `${base}.compiled`, [Buffer.from(entry.shared)], meanwhile);
        }
      })
      .finally(() => {
        if (this.writing.get(entry.id) === p) this.writing.delete(entry.id);
      });
    this.writing.set(entry.id, p);
    return p;
  }

  private async compiledCurrent(path: string): Promise<boolean> {
    try {
      const fh = await open(path, 'r');
      try {
        const head = new Uint8Array(new SharedArrayBuffer(256));
        const { bytesRead } = await fh.read(head, 0, head.length, 0);
        return bytesRead === head.length && isCurrentShared(head.buffer as SharedArrayBuffer);
      } finally {
        await fh.close();
      }
    } catch {
      return false;
    }
  }

  /** Reads `<id>.ruleset` (and `<id>.compiled` when it is this build's), straight into shared memory. */
  private async readEntry(id: string): Promise<StoredRuleset | undefined> {
    const path = join(this.opts.dataDir!, `${id}.ruleset`);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.opts.log.warn({ file: path, err: (err as Error).message }, 'skipping an unreadable ruleset file');
      }
      this.onDisk.delete(id);
      return undefined;
    }
    try {
      const size = (await fh.stat()).size;
      // The header line: read in chunks until its newline.
      let head = Buffer.alloc(0);
      let nl = -1;
      while (nl < 0 && head.length < size) {
        const chunk = Buffer.alloc(Math.min(65536, size - head.length));
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, head.length);
        if (bytesRead === 0) break;
        head = Buffer.concat([head, chunk.subarray(0, bytesRead)]);
        nl = head.indexOf(10);
      }
      if (nl < 0) throw new Error('no header line');
      const header = JSON.parse(head.subarray(0, nl).toString('utf8')) as Partial<RulesetSummaryData> & { format?: string };
      if (header.format !== FORMAT) throw new Error(`format is ${JSON.stringify(header.format)}, not ${FORMAT}`);
      if (header.id !== id) throw new Error('id in the header does not match the file name');
      if (typeof header.stats !== 'object' || header.stats === null || !Array.isArray(header.warnings)) {
        throw new Error('header lacks stats/warnings');
      }
      // The input stays on disk (readInput). A cheap structural check of it: a truncated write
      // cannot get here through rename, a hand edit can; the loader parses it when it needs to.
      const inputBytes = size - nl - 1;
      const ends = Buffer.alloc(1);
      const first = (await fh.read(ends, 0, 1, nl + 1)).bytesRead === 1 ? ends[0] : -1;
      const last = (await fh.read(ends, 0, 1, size - 1)).bytesRead === 1 ? ends[0] : -1;
      if (inputBytes < 2 || first !== 0x7b || last !== 0x7d) throw new Error('the bundle is not a JSON object');
      const entry: StoredRuleset = { id, stats: header.stats, warnings: header.warnings as string[], inputBytes, inputFile: path };
      const shared = await this.readCompiled(id);
      if (shared) {
        entry.shared = shared;
        entry.compiledFile = join(this.opts.dataDir!, `${id}.compiled`);
      }
      return entry;
    } catch (err) {
      this.opts.log.warn({ file: path, err: (err as Error).message }, 'skipping a corrupt ruleset file');
      return undefined;
    } finally {
      await fh.close();
    }
  }

  /** The resident part of `<id>.compiled` (its header says how long), when the file is this build's. */
  private async readCompiled(id: string): Promise<SharedArrayBuffer | undefined> {
    const path = join(this.opts.dataDir!, `${id}.compiled`);
    try {
      const fh = await open(path, 'r');
      try {
        const size = (await fh.stat()).size;
        const head = new SharedArrayBuffer(Math.min(size, 256));
        await readFully(fh, new Uint8Array(head), 0);
        if (isCurrentShared(head)) {
          const blob = sharedSection(head, 'blob');
          if (size < blob.at + blob.length) throw new Error('shorter than its header says');
          const sab = new SharedArrayBuffer(sharedSection(head, 'words').at);
          await readFully(fh, new Uint8Array(sab), 0, this.reads);
          return sab;
        }
        this.opts.log.info({ file: path }, 'compiled form from another build; recompiling from the bundle');
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.warn({ file: path, err: (err as Error).message }, 'ignoring an unreadable compiled file');
    }
    return undefined;
  }
}

/**
 * Bytes per read: each read is one job on libuv's few pool threads, and a job is never interrupted,
 * so a 65 MB resident part read in one piece would hold a thread that other file reads (a services
 * answer streaming, another set) and the process's exit (it joins those threads) wait for.
 */
const READ_PIECE = 1024 * 1024;

/** Jobs run one after the other, in the order they were asked for. */
class OneAtATime {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const p = this.tail.then(job);
    this.tail = p.catch(() => {});
    return p;
  }
}

/**
 * Reads `into.length` bytes from `position` on, a piece at a time; with `turns`, each piece waits
 * for the pieces other reads asked for first (see RulesetStore.reads).
 */
async function readFully(fh: import('node:fs/promises').FileHandle, into: Uint8Array, position: number, turns?: OneAtATime): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const read = () => fh.read(into, done, Math.min(READ_PIECE, into.length - done), position + done);
    const { bytesRead } = await (turns ? turns.run(read) : read());
    if (bytesRead === 0) throw new Error('file shorter than it was');
    done += bytesRead;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `parts` to `path` atomically. `meanwhile` runs on this thread once the writes are under way:
 * each part goes in one write request (FileHandle#writeFile would cut it into 512 KiB requests,
 * each waiting for this thread between them), so the thread pool writes while this thread works.
 */
async function writeAtomic(dir: string, path: string, parts: Uint8Array[], meanwhile?: () => void): Promise<void> {
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.${process.pid}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    const writing = writeParts(fh, parts);
    meanwhile?.();
    await writing;
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  // The rename is durable only once the directory entry is.
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

async function writeParts(fh: import('node:fs/promises').FileHandle, parts: Uint8Array[]): Promise<void> {
  for (const p of parts) {
    for (let done = 0; done < p.length; ) done += (await fh.write(p, done, p.length - done)).bytesWritten;
  }
}
