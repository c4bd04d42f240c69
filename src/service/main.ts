// Runs the server from the environment alone (PORT, HOST, LANDFALL_*): what a process manager,
// the HTTP load bench and the restart test start. The CLI's `landfall serve` calls startServer too.
import { serverBundleUrl } from './bundles.js';

// The server's bundle in a build (bundles.ts): a fraction of the start-up of its ~300 module files.
const bundled = serverBundleUrl();
const { startServer } = bundled ? ((await import(bundled)) as typeof import('./server.js')) : await import('./server.js');
await startServer();
