// The baseline: a bare Fastify app with one POST route that parses a small JSON body and answers
// a small JSON object — the cheapest thing an HTTP service can do on this machine. Prints its URL.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/bare', async (req) => ({ ok: true, got: typeof req.body }));
const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ msg: `Server listening at ${url}` })}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
