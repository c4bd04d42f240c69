// Rulesets the service knows: an in-memory LRU bounded by bytes of input, backed by a data
// directory so a restart (or an eviction) loses nothing. What is kept is the input bundle, not
// the parsed form: workers parse it on first use and cache the result themselves.
//
// On disk a ruleset is `<id>.ruleset`: one header line of JSON (format, id, stats, warnings), then
// the bundle JSON, byte for byte what workers receive. Writes are atomic (temp file, fsync,
// rename, fsync of the directory), so a crash leaves either the old state or the new, never half.
// Only names matching the id pattern are ever built into paths, and ids are validated before they
// reach this module, so no request can name a file.

import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const ID_PATTERN = /^[0-9a-f]{64}$/;
export const FORMAT = 'landfall-ruleset/1';
const FILE_PATTERN = /^([0-9a-f]{64})\.ruleset$/;

export interface RulesetSummaryData {
  id: string;
  stats: Record<string, unknown>;
  warnings: string[];
}

export interface StoredRuleset extends RulesetSummaryData {
  /** The bundle as UTF-8 JSON, shared with workers without copying. */
  input: SharedArrayBuffer;
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

/** The bundle → the bytes workers get (UTF-8 JSON in a SharedArrayBuffer). */
export function encodeInput(bundle: unknown): SharedArrayBuffer {
  const bytes = Buffer.from(JSON.stringify(bundle), 'utf8');
  const sab = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(sab).set(bytes);
  return sab;
}

export class RulesetStore {
  private readonly lru = new Map<string, StoredRuleset>();
  private readonly pinned = new Set<string>();
  private readonly aliases = new Map<string, string>();
  private readonly writing = new Map<string, Promise<void>>();
  private bytes = 0;

  constructor(private readonly opts: StoreOptions) {}

  get size(): number {
    return this.lru.size;
  }
  get memoryBytes(): number {
    return this.bytes;
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
    // An aliased ruleset is not persisted (it is reloaded from its source at start): never evict it.
    this.pinned.add(id);
  }

  /** Adds to memory and, when `persist`, to the data directory (awaited: 201 means durable). */
  async put(entry: StoredRuleset, persist = true): Promise<void> {
    this.remember(entry);
    if (persist && this.opts.dataDir) await this.persist(entry);
  }

  /** From memory, else from disk (and back into memory). */
  async get(id: string): Promise<StoredRuleset | undefined> {
    const hit = this.lru.get(id);
    if (hit) {
      this.lru.delete(id);
      this.lru.set(id, hit);
      return hit;
    }
    if (!this.opts.dataDir || !ID_PATTERN.test(id)) return undefined;
    const entry = await this.readFile(join(this.opts.dataDir, `${id}.ruleset`), id);
    if (entry) this.remember(entry);
    return entry;
  }

  async delete(id: string): Promise<boolean> {
    const entry = this.lru.get(id);
    if (entry) {
      this.lru.delete(id);
      this.bytes -= entry.input.byteLength;
    }
    for (const [alias, target] of this.aliases) if (target === id) this.aliases.delete(alias);
    this.pinned.delete(id);
    let onDisk = false;
    if (this.opts.dataDir && ID_PATTERN.test(id)) {
      await this.writing.get(id);
      try {
        await unlink(join(this.opts.dataDir, `${id}.ruleset`));
        onDisk = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return entry !== undefined || onDisk;
  }

  /**
   * Every well-formed ruleset file in the data directory. Foreign or corrupt files are skipped
   * with a log line (never thrown): a bad file must not keep the service from starting.
   */
  async *readAll(): AsyncGenerator<StoredRuleset> {
    const dir = this.opts.dataDir;
    if (!dir) return;
    await mkdir(dir, { recursive: true });
    for (const name of (await readdir(dir)).sort()) {
      const m = FILE_PATTERN.exec(name);
      if (!m) {
        this.opts.log.warn({ file: join(dir, name) }, 'skipping a file that is not a landfall ruleset');
        continue;
      }
      const entry = await this.readFile(join(dir, name), m[1]!);
      if (entry) yield entry;
    }
  }

  private remember(entry: StoredRuleset): void {
    const old = this.lru.get(entry.id);
    if (old) {
      this.lru.delete(entry.id);
      this.bytes -= old.input.byteLength;
    }
    this.lru.set(entry.id, entry);
    this.bytes += entry.input.byteLength;
    // Evict least recently used (never pinned ones, never the entry just added): they stay on
    // disk and come back on their next use.
    for (const [id, e] of this.lru) {
      if (this.bytes <= this.opts.maxBytes) break;
      if (id === entry.id || this.pinned.has(id)) continue;
      this.lru.delete(id);
      this.bytes -= e.input.byteLength;
    }
  }

  private persist(entry: StoredRuleset): Promise<void> {
    // Concurrent uploads of the same dump share one write.
    const pending = this.writing.get(entry.id);
    if (pending) return pending;
    const p = this.writeAtomic(entry).finally(() => this.writing.delete(entry.id));
    this.writing.set(entry.id, p);
    return p;
  }

  private async writeAtomic(entry: StoredRuleset): Promise<void> {
    const dir = this.opts.dataDir!;
    await mkdir(dir, { recursive: true });
    const header = JSON.stringify({ format: FORMAT, id: entry.id, stats: entry.stats, warnings: entry.warnings });
    const tmp = join(dir, `.${entry.id}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(Buffer.from(`${header}\n`, 'utf8'));
      await fh.writeFile(Buffer.from(entry.input));
      await fh.sync();
    } catch (err) {
      await fh.close();
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    await rename(tmp, join(dir, `${entry.id}.ruleset`));
    // The rename is durable only once the directory entry is.
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  private async readFile(path: string, id: string): Promise<StoredRuleset | undefined> {
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.opts.log.warn({ file: path, err: (err as Error).message }, 'skipping an unreadable ruleset file');
      }
      return undefined;
    }
    const nl = buf.indexOf(10);
    try {
      if (nl < 0) throw new Error('no header line');
      const header = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Partial<RulesetSummaryData> & { format?: string };
      if (header.format !== FORMAT) throw new Error(`format is ${JSON.stringify(header.format)}, not ${FORMAT}`);
      if (header.id !== id) throw new Error('id in the header does not match the file name');
      if (typeof header.stats !== 'object' || header.stats === null || !Array.isArray(header.warnings)) {
        throw new Error('header lacks stats/warnings');
      }
      const body = buf.subarray(nl + 1);
      // Cheap structural check; the worker parses the bundle for real when it loads it.
      const bundle = JSON.parse(body.toString('utf8')) as { iptables?: unknown };
      if (typeof bundle?.iptables !== 'string') throw new Error('bundle has no iptables text');
      const input = new SharedArrayBuffer(body.byteLength);
      new Uint8Array(input).set(body);
      return { id, stats: header.stats, warnings: header.warnings as string[], input };
    } catch (err) {
      this.opts.log.warn({ file: path, err: (err as Error).message }, 'skipping a corrupt ruleset file');
      return undefined;
    }
  }
}
