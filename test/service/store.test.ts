// The ruleset store on its own: byte-bounded LRU backed by the data directory, atomic files,
// corrupt and foreign files skipped with a log line.
import { afterEach, describe, expect, it } from 'vitest';
import { open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeInput, FORMAT, RulesetStore, type StoredRuleset } from '../../src/service/store.js';
import { tempDir } from './helpers.js';
import { compileShared } from '../../src/shared-ruleset.js';
import { residentBytes } from '../../src/compile/shared.js';
import { generateIptables } from '../../src/kube/generate.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function logger() {
  const warnings: { obj: object; msg: string }[] = [];
  return { warnings, log: { info() {}, warn: (obj: object, msg: string) => warnings.push({ obj, msg }) } };
}

function entry(n: number, size = 1000): StoredRuleset {
  const input = encodeInput({ iptables: `# ${n}\n${'x'.repeat(size)}` });
  return { id: n.toString(16).padStart(64, '0'), stats: { rules: n }, warnings: [], inputBytes: input.byteLength, input };
}

/** An entry with a real compiled form (its resident part is what stays in memory once persisted). */
function compiledEntry(n: number): StoredRuleset {
  const iptables = `*filter\n:INPUT ACCEPT [0:0]\n${Array.from({ length: 20 }, (_, k) => `-A INPUT -s 10.${n}.0.${k}/32 -p tcp --dport 22 -j DROP\n`).join('')}COMMIT\n`;
  return { ...entry(n), shared: compileShared({ iptables }).shared };
}

async function store(maxBytes: number, withDir = true) {
  const dir = withDir ? await tempDir() : null;
  if (dir) dirs.push(dir);
  const l = logger();
  return { s: new RulesetStore({ dataDir: dir, maxBytes, log: l.log }), dir, ...l };
}

describe('RulesetStore', () => {
  it('evicts least recently used entries past its byte budget, and reloads them from disk', async () => {
    const [a, b, c] = [compiledEntry(1), compiledEntry(2), compiledEntry(3)];
    const inputB = Buffer.from(b.input!).toString();
    const budget = Math.floor(2.5 * residentBytes(a.shared!));
    const { s } = await store(budget);
    await s.put(a);
    await s.put(b);
    await s.get(a.id); // a is now the most recent
    await s.put(c); // over budget: b goes
    expect(s.size).toBe(2);
    expect(s.memoryBytes).toBeLessThanOrEqual(budget);
    const back = await s.get(b.id);
    expect(back && Buffer.from(await s.readInput(back)).toString()).toBe(inputB);
    expect(back?.stats).toEqual({ rules: 2 });
  });

  it('once on disk, memory keeps only the resident part of the compiled form (no input, no words)', async () => {
    const { s, dir } = await store(1 << 20);
    const e = compiledEntry(4);
    const whole = e.shared!;
    const input = Buffer.from(e.input!);
    await s.put(e);
    const kept = (await s.get(e.id))!;
    expect(kept.input).toBeUndefined();
    expect(kept.shared!.byteLength).toBe(residentBytes(whole));
    expect(Buffer.from(kept.shared!).equals(Buffer.from(whole, 0, residentBytes(whole)))).toBe(true);
    expect(kept.compiledFile).toBe(join(dir!, `${e.id}.compiled`));
    expect(s.memoryBytes).toBe(residentBytes(whole));
    expect(Buffer.from(await s.readInput(kept)).equals(input)).toBe(true);
    // Without a data directory nothing can be read back, so everything stays.
    const { s: mem } = await store(1 << 20, false);
    const m = compiledEntry(5);
    await mem.put(m);
    expect((await mem.get(m.id))!.input).toBeDefined();
    expect((await mem.get(m.id))!.shared).toBe(m.shared);
  });

  it('without a data directory an evicted entry is gone, but pinned (aliased) ones stay', async () => {
    const { s } = await store(1500, false);
    await s.put(entry(1));
    s.setAlias('example', entry(1).id);
    await s.put(entry(2));
    await s.put(entry(3));
    expect(await s.get(entry(1).id)).toBeDefined();
    expect(await s.get(entry(2).id)).toBeUndefined();
    expect(s.resolve('example')).toBe(entry(1).id);
  });

  it('writes whole files only (no temp files left) and deletes them', async () => {
    const { s, dir } = await store(1 << 20);
    await Promise.all([s.put(entry(5)), s.put(entry(5)), s.put(entry(6))]);
    expect((await readdir(dir!)).sort()).toEqual([`${entry(5).id}.ruleset`, `${entry(6).id}.ruleset`]);
    const text = await readFile(join(dir!, `${entry(5).id}.ruleset`), 'utf8');
    expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({ format: FORMAT, id: entry(5).id });
    expect(await s.delete(entry(5).id)).toBe(true);
    expect(await readdir(dir!)).toEqual([`${entry(6).id}.ruleset`]);
    expect(await s.delete(entry(5).id)).toBe(false);
  });

  it('lists the directory at start and skips corrupt and foreign files (read on first use) with a log line', async () => {
    const { s, dir, warnings } = await store(1 << 20);
    await s.put(entry(7));
    const id = (n: number) => n.toString(16).padStart(64, '0');
    await writeFile(join(dir!, `${id(8)}.ruleset`), 'not json at all');
    await writeFile(join(dir!, `${id(9)}.ruleset`), `${JSON.stringify({ format: 'other/9', id: id(9), stats: {}, warnings: [] })}\n{}`);
    await writeFile(join(dir!, `${id(10)}.ruleset`), `${JSON.stringify({ format: FORMAT, id: id(11), stats: {}, warnings: [] })}\n{"iptables":""}`);
    await writeFile(join(dir!, `${id(12)}.ruleset`), `${JSON.stringify({ format: FORMAT, id: id(12), stats: {}, warnings: [] })}\n{"iptables":`);
    await writeFile(join(dir!, 'notes.txt'), 'hello');
    const fresh = new RulesetStore({ dataDir: dir, maxBytes: 1 << 20, log: { info() {}, warn: (o, m) => warnings.push({ obj: o, msg: m }) } });
    expect((await fresh.index()).sort()).toEqual([entry(7).id, id(8), id(9), id(10), id(12)].sort());
    const found: string[] = [];
    for (const n of [7, 8, 9, 10, 12]) if (await fresh.get(id(n))) found.push(id(n));
    expect(found).toEqual([entry(7).id]);
    expect(warnings.map((w) => w.msg).sort()).toEqual([
      'skipping a corrupt ruleset file',
      'skipping a corrupt ruleset file',
      'skipping a corrupt ruleset file',
      'skipping a corrupt ruleset file',
      'skipping a file that is not a landfall ruleset',
    ]);
  });

  it('persists the compiled form beside the bundle and reads it back; one from another build is dropped', async () => {
    const { s, dir } = await store(1 << 20);
    const shared = compileShared({ iptables: '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j DROP\nCOMMIT\n' }).shared;
    const e = { ...entry(20), shared };
    const input = Buffer.from(e.input!);
    await s.put(e);
    expect((await readdir(dir!)).sort()).toEqual([`${e.id}.compiled`, `${e.id}.ruleset`]);
    const fresh = new RulesetStore({ dataDir: dir, maxBytes: 1 << 20, log: logger().log });
    const back = await fresh.get(e.id);
    // Read back: the resident part only, the whole form stays in its file.
    expect(Buffer.from(back!.shared!).equals(Buffer.from(shared, 0, residentBytes(shared)))).toBe(true);
    expect((await readFile(join(dir!, `${e.id}.compiled`))).equals(Buffer.from(shared))).toBe(true);
    expect(Buffer.from(await fresh.readInput(back!)).equals(input)).toBe(true);
    // A compiled file of another layout version: the entry comes back without it (the service recompiles).
    const stale = Buffer.from(Buffer.from(shared)); // a copy: Buffer.from(sab) alone is a view
    stale.writeInt32LE(stale.readInt32LE(8) + 1, 8);
    await writeFile(join(dir!, `${e.id}.compiled`), stale);
    const again = new RulesetStore({ dataDir: dir, maxBytes: 1 << 20, log: logger().log });
    const noCompiled = await again.get(e.id);
    expect(noCompiled?.shared).toBeUndefined();
    // Putting it back with a fresh compiled form replaces the stale file.
    await again.put({ ...noCompiled!, shared });
    expect((await readFile(join(dir!, `${e.id}.compiled`))).equals(Buffer.from(shared))).toBe(true);
  });

  it('sets read back at once take turns: one big read at a time, their pieces alternating, each read whole', async () => {
    const { s, dir } = await store(1 << 30);
    // Resident parts of two read pieces or more each (generated nodes: rule tables and texts).
    const sets = [1, 2, 3].map((seed) => {
      const g = generateIptables({ services: 1000, endpoints: 3, seed });
      return { ...entry(100 + seed), shared: compileShared({ iptables: g.text, node: g.node }).shared };
    });
    for (const e of sets) expect(residentBytes(e.shared)).toBeGreaterThan(1 << 20); // pieces are 1 MiB
    for (const e of sets) await s.put({ ...e });
    const fresh = new RulesetStore({ dataDir: dir, maxBytes: 1 << 30, log: logger().log });
    // Every file read of the store goes through FileHandle#read: the big ones (resident parts;
    // headers are read in small pieces) are counted while in flight, and their files noted in order.
    const probe = await open(join(dir!, `${sets[0]!.id}.ruleset`), 'r');
    const proto = Object.getPrototypeOf(probe) as { read: (...a: unknown[]) => Promise<{ bytesRead: number }> };
    await probe.close();
    const read = proto.read;
    let inFlight = 0;
    let most = 0;
    const order: number[] = [];
    proto.read = async function (this: { fd: number }, ...a: unknown[]) {
      const big = typeof a[2] === 'number' && a[2] >= 65536;
      if (big) {
        most = Math.max(most, ++inFlight);
        order.push(this.fd);
      }
      try {
        return await read.apply(this, a);
      } finally {
        if (big) inFlight--;
      }
    };
    try {
      const back = await Promise.all(sets.map((e) => fresh.get(e.id)));
      back.forEach((b, i) => expect(Buffer.from(b!.shared!).equals(Buffer.from(sets[i]!.shared, 0, residentBytes(sets[i]!.shared)))).toBe(true));
    } finally {
      proto.read = read;
    }
    expect(most).toBe(1);
    // Three files, each read in several pieces, the pieces taking turns: no file's pieces all in a row.
    const fds = [...new Set(order)];
    expect(fds).toHaveLength(3);
    const runs = order.filter((fd, i) => i === 0 || fd !== order[i - 1]).length;
    expect(runs).toBeGreaterThan(fds.length);
  });

  it('only resolves 64-hex ids and known aliases', async () => {
    const { s } = await store(1 << 20);
    expect(s.resolve('f'.repeat(64))).toBe('f'.repeat(64));
    expect(s.resolve('example')).toBeUndefined();
    expect(s.resolve('../etc/passwd')).toBeUndefined();
    expect(await s.get('../../etc/passwd')).toBeUndefined();
  });
});
