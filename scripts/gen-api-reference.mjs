// Writes docs/reference/api.md from the OpenAPI document the server generates from its routes.
// Run by `npm run docs`, after the build (it imports the server's compiled output).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import { describeApi, renderApiReference } from '@novacron/server';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'docs', 'reference', 'api.md');

const markdown = renderApiReference(await describeApi());
// Formatted as `npm run format:check` expects, so the generated file passes it as committed.
const options = (await prettier.resolveConfig(target)) ?? {};
await mkdir(dirname(target), { recursive: true });
await writeFile(target, await prettier.format(markdown, { ...options, filepath: target }));
console.log(`wrote ${target.slice(root.length + 1)}`);
