// Which program a lab namespace's agent runs: LANDFALL_LAB_AGENT_FILE when set (the test suite's
// globalSetup sets it to its bundle of src/lab/agent.ts; every lab test then starts that bundle
// in real namespaces), else agent.ts under tsx's loader from src/ (agent.js from dist/).
import { afterEach, describe, expect, inject, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { agentCommand } from '../../src/lab/agent-client.js';

const saved = process.env.LANDFALL_LAB_AGENT_FILE;
afterEach(() => {
  if (saved === undefined) delete process.env.LANDFALL_LAB_AGENT_FILE;
  else process.env.LANDFALL_LAB_AGENT_FILE = saved;
});

describe('the lab agent command', () => {
  it('is the bundle test/support/worker-bundle.ts made, in this run', () => {
    expect(saved).toBe(inject('labAgentFile'));
    expect(agentCommand()).toEqual([process.execPath, inject('labAgentFile')]);
  });

  it('is LANDFALL_LAB_AGENT_FILE, resolved, when set; agent.ts through tsx from src/ when unset', () => {
    process.env.LANDFALL_LAB_AGENT_FILE = '/opt/landfall/agent.mjs';
    expect(agentCommand()).toEqual([process.execPath, '/opt/landfall/agent.mjs']);
    delete process.env.LANDFALL_LAB_AGENT_FILE;
    const argv = agentCommand();
    expect(argv[0]).toBe(process.execPath);
    expect(argv[1]).toBe('--import');
    expect(argv[2]).toMatch(/\/tsx\//);
    expect(argv[3]).toBe(fileURLToPath(new URL('../../src/lab/agent.ts', import.meta.url)));
  });
});
