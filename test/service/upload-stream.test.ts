// text/plain uploads stream into the canonical bundle bytes (src/service/upload-stream.ts): the same
// bytes, so the same id, as the whole-string path (encodeInput) for any chunking of any text; over
// a real socket the main thread only ever decodes a chunk, never the dump as one string; and the
// body limit is enforced as bytes arrive (a declared length over it is refused before the body is
// sent, a chunked body at the byte that crosses it). JSON uploads are parsed as they arrive
// (json-stream.ts; its properties in json-stream.test.ts): over a real socket, real dumps sent as
// JSON get the id they get as text/plain, and no dump is decoded into one string.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { generateIptables } from '../../src/kube/generate.js';
import { encodeInput, idOf } from '../../src/service/store.js';
import { FirstLineSniffer, streamTextInput, streamedText } from '../../src/service/upload-stream.js';
import { streamedJson } from '../../src/service/json-stream.js';
import { SNAPSHOT_FORMAT } from '../../src/model/snapshot.js';
import { readdirSync } from 'node:fs';
import { looksLikeNft } from '../../src/parse/paste.js';
import { startApp, type TestApp } from './helpers.js';
import { corpusFile, fixture } from '../helpers/fixtures.js';

const chunked = (bytes: Buffer, cuts: number[]): Readable => {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    parts.push(bytes.subarray(prev, c));
    prev = c;
  }
  return Readable.from(parts.filter((p) => p.length > 0));
};

const wholePath = (text: string, lenient: boolean) => Buffer.from(encodeInput(looksLikeNft(text) ? { nftables: text } : { iptables: text }, { lenient }));

describe('streamTextInput', () => {
  it('writes the bytes encodeInput makes of the whole text, however the body is cut', async () => {
    const samples = [
      '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "quoted \\"x\\" back\\\\slash" -j ACCEPT\r\nCOMMIT\n',
      '# comment\n\n  table ip nat {\n  chain x { }\n}\n',
      '\u00e9t\u00e9 \u{1F600} tab\there \u0001\u001f end',
      '',
      '# only comments\n# and more',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...samples), fc.string({ unit: 'binary' })),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        async (text, cuts, lenient) => {
          const bytes = Buffer.from(text, 'utf8');
          const sab = await streamTextInput(chunked(bytes, cuts), { limit: 1 << 20, lenient });
          expect(Buffer.from(sab).equals(wholePath(bytes.toString('utf8'), lenient))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decides iptables or nftables as looksLikeNft does on the whole text, however the text is cut', () => {
    const line = fc.constantFrom('', '   ', '\t\r', '# c', '  # table ip nat {', 'table ip nat {', '  table inet kube-proxy {', '{"nftables": [', '*nat', '-A X -j ACCEPT', 'table', 'table ip6 x{');
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const text = lines.join('\n');
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const sniff = new FirstLineSniffer();
        let prev = 0;
        for (const c of [...at, text.length]) (sniff.feed(text.slice(prev, c)), (prev = c));
        expect(sniff.end()).toBe(looksLikeNft(text));
      }),
      { numRuns: 2000 },
    );
    // 10,000 blank or comment lines, then a table header: looksLikeNft stops looking first.
    for (const n of [9_999, 10_000]) {
      const text = '#\n'.repeat(n) + 'table ip nat {\n';
      const sniff = new FirstLineSniffer();
      for (let i = 0; i < text.length; i += 777) sniff.feed(text.slice(i, i + 777));
      expect(sniff.end()).toBe(looksLikeNft(text));
    }
  });

  it('an invalid UTF-8 byte split across chunks reads as the whole-body decoder reads it', async () => {
    const bytes = Buffer.from([0x2d, 0x41, 0xe2, 0x82, 0x0a, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0x0a]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const sab = await streamTextInput(chunked(bytes, [cut]), { limit: 100 });
      expect(Buffer.from(sab).equals(wholePath(bytes.toString('utf8'), false))).toBe(true);
    }
  });

  it('refuses a body over the limit (413) and one shorter than its Content-Length (400)', async () => {
    await expect(streamTextInput(Readable.from([Buffer.alloc(11, 0x61)]), { limit: 10 })).rejects.toMatchObject({ statusCode: 413 });
    await expect(streamTextInput(Readable.from([Buffer.alloc(5, 0x61)]), { limit: 10, contentLength: '11' })).rejects.toMatchObject({ statusCode: 413 });
    await expect(streamTextInput(Readable.from([Buffer.alloc(5, 0x61)]), { limit: 10, contentLength: '6' })).rejects.toMatchObject({ statusCode: 400 });
  });
});

describe('text/plain over a real socket', () => {
  const LIMIT = 8 * 1024 * 1024;
  let port = 0;
  listening(LIMIT, (p) => (port = p));

  it('a dump arrives in chunks: no string of the whole dump is made, and the id is the whole-text id', async () => {
    const { text } = generateIptables({ services: 300, endpoints: 3, seed: 5 });
    const bytes = Buffer.from(text);
    expect(bytes.length).toBeGreaterThan(512 * 1024);
    const before = { ...streamedText };
    const res = await fetch(`http://127.0.0.1:${port}/v1/rulesets`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: bytes });
    expect(res.status, await res.clone().text()).toBe(201);
    const { id, bytes: stored } = (await res.json()) as { id: string; bytes: number };
    expect(id).toBe(idOf(encodeInput({ iptables: text })));
    expect(stored).toBe(encodeInput({ iptables: text }).byteLength);
    expect(streamedText.uploads).toBe(before.uploads + 1);
    // The main thread decoded the body a chunk at a time: no string as long as the dump was made.
    expect(streamedText.largestDecodedChunk).toBeLessThan(text.length / 4);
  });

  it('real dumps pasted by users: streamed, each gets the id of its JSON bundle, nft told from iptables', async () => {
    // A user's `nft list ruleset` (projectcalico/calico#8025) and `iptables-save` dumps from public issues.
    const inputs: { text: string; key: 'iptables' | 'nftables' }[] = [
      { text: fixture('nft/calico-8025.txt'), key: 'nftables' },
      { text: corpusFile('openshift3-filter', 'iptables.txt')!, key: 'iptables' },
      { text: corpusFile('calico-mangle-counters', 'iptables.txt')!, key: 'iptables' },
    ];
    for (const { text, key } of inputs) {
      const streamed = await fetch(`http://127.0.0.1:${port}/v1/rulesets?lenient=true`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text });
      expect(streamed.status, await streamed.clone().text()).toBe(201);
      const { id } = (await streamed.json()) as { id: string };
      expect(id).toBe(idOf(encodeInput({ [key]: text }, { lenient: true })));
      const json = await fetch(`http://127.0.0.1:${port}/v1/rulesets?lenient=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ [key]: text }) });
      expect(json.status).toBe(201);
      expect(((await json.json()) as { id: string }).id).toBe(id);
    }
  });

  it('a JSON upload is read the same way: the same id as before, bad JSON and proto keys still refused, the limit enforced', async () => {
    const { text, node } = generateIptables({ services: 50, endpoints: 2, seed: 9 });
    const post = (body: string | Uint8Array<ArrayBuffer>) => fetch(`http://127.0.0.1:${port}/v1/rulesets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const ok = await post(JSON.stringify({ node, iptables: text }));
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { id: string }).id).toBe(idOf(encodeInput({ iptables: text, node: node as never })));
    const bad = await post('{"iptables": "*filter');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('invalid-json');
    const poisoned = await post('{"iptables": "*filter\\nCOMMIT\\n", "__proto__": {"x": 1}}');
    expect(poisoned.status).toBe(400);
    const empty = await post('');
    expect(empty.status).toBe(400);
    const over = await post(new Uint8Array(LIMIT + 1).fill(0x20));
    expect(over.status).toBe(413);
    expect(((await over.json()) as { code: string }).code).toBe('payload-too-large');
  });

  it('a declared Content-Length over the limit is 413 problem+json before any of the body is sent', async () => {
    const answer = await rawExchange(port, `POST /v1/rulesets HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: ${LIMIT + 1}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/content-type: application\/problem\+json/i);
    expect(answer).toContain('"code":"payload-too-large"');
    expect(answer).toContain(`limit of ${LIMIT} bytes`);
  });

  it('a chunked body is refused with 413 at the limit, while the client is still sending', async () => {
    const uploads = streamedText.uploads;
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let answer = '';
    const got413 = new Promise<void>((r) => sock.on('data', (d) => ((answer += String(d)), /\r\n\r\n/.test(answer) && r())));
    sock.on('error', () => {}); // the server may close while we write
    sock.write('POST /v1/rulesets HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n');
    const piece = Buffer.alloc(256 * 1024, 0x61);
    // Just over the limit, then stop sending (the body never ends): the answer must come anyway.
    for (let sent = 0; sent <= LIMIT; sent += piece.length) sock.write(`${piece.length.toString(16)}\r\n${piece.toString('latin1')}\r\n`);
    await got413;
    sock.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(streamedText.uploads).toBe(uploads);
    // A body without a newline: the sniffer kept a bounded prefix of the line, not the whole body.
    expect(streamedText.largestSniff).toBeLessThanOrEqual(2 * 64 * 1024);
  });
});

describe('JSON over a real socket', () => {
  const LIMIT = 8 * 1024 * 1024;
  let port = 0;
  listening(LIMIT, (p) => (port = p));
  const post = (body: string | Buffer, type = 'application/json', query = '') =>
    fetch(`http://127.0.0.1:${port}/v1/rulesets${query}`, { method: 'POST', headers: { 'content-type': type }, body: body as BodyInit });
  /** JSON with every non-ASCII char, '/' and DEL written as \u escapes: another client's valid spelling of the same bundle. */
  const asciiJson = (v: unknown) => JSON.stringify(v).replace(/[\u007f-\uffff/]/g, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);

  it('real pastes from public issues get the same id as JSON (any spelling) as as text/plain', async () => {
    const dir = fileURLToPath(new URL('../corpus/', import.meta.url));
    const texts = readdirSync(dir)
      .map((name) => corpusFile(name, 'iptables.txt'))
      .filter((x): x is string => x !== undefined);
    texts.push(fixture('nft/calico-8025.txt'), fixture('nft/iptables-nft.save'));
    let accepted = 0;
    for (const text of texts) {
      const plain = await post(text, 'text/plain', '?lenient=true');
      const key = looksLikeNft(text) ? 'nftables' : 'iptables';
      for (const body of [JSON.stringify({ [key]: text }), asciiJson({ [key]: text }), `\n { "${key}" :\t${asciiJson(text)} }\r\n`]) {
        const json = await post(body, 'application/json', '?lenient=true');
        expect(json.status, text.slice(0, 80)).toBe(plain.status);
        if (json.status === 201) expect(((await json.json()) as { id: string }).id).toBe(((await plain.clone().json()) as { id: string }).id);
        else await json.body?.cancel();
      }
      if (plain.status === 201) accepted++;
      else await plain.body?.cancel();
    }
    expect(accepted).toBeGreaterThanOrEqual(10);
  });

  it('a node snapshot, as the whole body or as the bundle\'s snapshot, sent in an order that must be reordered', async () => {
    const snapshot = { ipvs: fixture('ipvs-mode.ipvs'), notes: ['ip6tables left out'], format: SNAPSHOT_FORMAT, iptables: fixture('ipvs-mode.txt'), hostname: 'node-1', kernel: '6.1.0' };
    for (const [body, bundle] of [
      [snapshot, { snapshot }],
      [{ snapshot, node: { addresses: ['10.0.0.9'] } }, { snapshot, node: { addresses: ['10.0.0.9'] } }],
    ] as const) {
      const res = await post(asciiJson(body));
      expect(res.status, await res.clone().text()).toBe(201);
      expect(((await res.json()) as { id: string }).id).toBe(idOf(encodeInput(bundle as never)));
    }
  });

  it('a large dump as JSON: the id of the whole text, and never decoded into one string', async () => {
    const { text, node } = generateIptables({ services: 300, endpoints: 3, seed: 5 });
    streamedJson.largestPiece = 0;
    streamedJson.largestSmall = 0;
    const uploads = streamedJson.uploads;
    const res = await post(JSON.stringify({ node, iptables: text }));
    expect(res.status, await res.clone().text()).toBe(201);
    const { id, bytes } = (await res.json()) as { id: string; bytes: number };
    expect(id).toBe(idOf(encodeInput({ iptables: text, node: node as never })));
    expect(bytes).toBe(encodeInput({ iptables: text, node: node as never }).byteLength);
    expect(streamedJson.uploads).toBe(uploads + 1);
    // Decoded 64 KiB at a time at most; the small members are short.
    expect(streamedJson.largestPiece).toBeGreaterThan(0);
    expect(streamedJson.largestPiece).toBeLessThan(text.length / 4);
    expect(streamedJson.largestSmall).toBeLessThan(200);
  });

  it('malformed JSON is a 400 naming line and column, answered while a chunked body is still being sent', async () => {
    const bad = await post('{\n  "iptables": "*filter\\nCOMMIT\\n",\n  "node": {addresses: []}\n}');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'invalid-json', line: 3, column: 12 });
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let answer = '';
    const got = new Promise<void>((r) => sock.on('data', (d) => ((answer += String(d)), /\r\n\r\n[^]*\}/.test(answer) && r())));
    sock.on('error', () => {});
    sock.write('POST /v1/rulesets HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
    const part = '{"iptables": "-A X\\n" ] ';
    sock.write(`${part.length.toString(16)}\r\n${part}\r\n`);
    await got;
    sock.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"invalid-json"');
    expect(answer).toContain('at byte 22 (line 1, column 23)');
  });

  it('a chunked JSON body is refused with 413 at the limit', async () => {
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let answer = '';
    const got = new Promise<void>((r) => sock.on('data', (d) => ((answer += String(d)), /\r\n\r\n/.test(answer) && r())));
    sock.on('error', () => {});
    const open = '{"iptables": "';
    sock.write(`POST /v1/rulesets HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${open.length.toString(16)}\r\n${open}\r\n`);
    const piece = Buffer.alloc(256 * 1024, 0x61);
    for (let sent = 0; sent <= LIMIT; sent += piece.length) sock.write(`${piece.length.toString(16)}\r\n${piece.toString('latin1')}\r\n`);
    await got;
    sock.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
  });
});

/** A real app on a free loopback port for the enclosing describe (body limit `limit`); tells its port. */
function listening(limit: number, onPort: (port: number) => void): void {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ bodyLimit: limit });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    onPort((t.app.server.address() as { port: number }).port);
  });
  afterAll(async () => t.close());
}

function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(request));
    let answer = '';
    sock.on('data', (d) => {
      answer += String(d);
      const end = answer.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(answer);
      if (end >= 0 && len && answer.length >= end + 4 + Number(len[1])) {
        sock.destroy();
        resolve(answer);
      }
    });
    sock.on('error', reject);
  });
}
