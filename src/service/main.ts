// Runs the server from the environment alone (PORT, HOST, LANDFALL_*): what a process manager,
// the HTTP load bench and the restart test start. The CLI's `landfall serve` calls startServer too.
import { startServer } from './server.js';

await startServer();
