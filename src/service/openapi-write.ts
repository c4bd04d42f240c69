// Writes openapi/openapi.json from the live route schemas (npm run openapi).
import { writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateOpenapi, renderOpenapi } from './openapi-document.js';

const target = fileURLToPath(new URL('../../openapi/openapi.json', import.meta.url));
await mkdir(fileURLToPath(new URL('../../openapi/', import.meta.url)), { recursive: true });
await writeFile(target, renderOpenapi(await generateOpenapi()));
process.stdout.write(`wrote ${target}\n`);
