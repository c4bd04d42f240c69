import { test, expect } from 'vitest';
import { buildRs, fixture } from '/work/main/test/engine/build.js';
import { createReferenceEngine } from '/work/main/src/engine/reference.js';
import { createWasmEngine } from '/work/main/src/engine/wasm.js';
import { resolveQuery } from '/work/main/src/engine/packet.js';
import { compareAllWalks } from '/work/main/test/engine/differential-support.js';

test('smoke', () => {
  const rs = buildRs(fixture('kube-basic.txt'), { node: { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] } });
  const ref = createReferenceEngine(rs);
  const w = createWasmEngine(rs);
  for (const q of [
    { protocol: 'tcp', destination: '10.96.0.10', port: 53 },
    { protocol: 'tcp', destination: '192.168.1.10', port: 30080 },
    { protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' },
    { protocol: 'tcp', destination: '10.96.0.20', port: 80, origin: 'host' },
  ] as const) {
    const { pkt } = resolveQuery(q as any, rs.node);
    console.log(JSON.stringify(w.walk(pkt, [])));
    const n = compareAllWalks(ref, w, pkt);
    console.log(q.destination, n);
  }
});
