import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import type { ServerApp } from '../../deps.js';
import type { OpenApiDocument } from '../../openapi.js';
import { openApiDocumentOf, OPENAPI_PATH } from './openapi.js';

export const REFERENCE_PATH = '/api/docs';

const STYLE = `
:root { color-scheme: light dark; --line: #8884; --muted: #888; --code: #8881; }
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; display: flex; }
nav { position: sticky; top: 0; height: 100vh; overflow: auto; min-width: 14rem; padding: 1rem;
  border-right: 1px solid var(--line); box-sizing: border-box; }
nav a { display: block; text-decoration: none; padding: .1rem 0; }
main { padding: 1rem 2rem; max-width: 70rem; flex: 1; }
h1 { margin-top: 0; } h2 { border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
code, pre { font: 13px ui-monospace, monospace; background: var(--code); border-radius: 3px; }
code { padding: 0 .2rem; } pre { padding: .5rem; overflow: auto; }
details.op { border: 1px solid var(--line); border-radius: 4px; margin: .4rem 0; }
details.op > summary { cursor: pointer; padding: .4rem .6rem; list-style: none; }
details.op > div { padding: 0 .8rem .6rem; }
.method { display: inline-block; min-width: 4.2rem; font-weight: 600; font: 600 13px ui-monospace, monospace; }
.get { color: #2a7ae2; } .post { color: #1f9d55; } .put, .patch { color: #c27c0e; } .delete { color: #d64545; }
.muted { color: var(--muted); } .lock { font-size: 12px; margin-left: .5rem; }
table { border-collapse: collapse; margin: .3rem 0; } td, th { border-bottom: 1px solid var(--line);
  padding: .2rem .6rem .2rem 0; text-align: left; vertical-align: top; }
ul.schema { margin: .2rem 0; padding-left: 1.2rem; } ul.schema li { margin: .1rem 0; }
`;

// The renderer runs in the browser: plain DOM building, no framework, no network. Strings from
// the document are set as text, never parsed as HTML.
const SCRIPT = `
(() => {
  const doc = JSON.parse(document.getElementById('openapi').textContent);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };
  const refName = (ref) => ref.split('/').pop();
  const resolve = (schema) => (schema && schema.$ref ? doc.components.schemas[refName(schema.$ref)] || {} : schema || {});

  function typeOf(schema) {
    if (!schema) return 'any';
    if (schema.$ref) return el('a', { href: '#schema-' + refName(schema.$ref) }, refName(schema.$ref));
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
    const options = schema.anyOf || schema.oneOf;
    if (options) {
      const parts = [];
      options.forEach((option, i) => { if (i) parts.push(' | '); parts.push(typeOf(option)); });
      return el('span', {}, parts);
    }
    if (schema.type === 'array') return el('span', {}, typeOf(schema.items), '[]');
    if (schema.type === 'object' && !schema.properties) {
      const values = schema.patternProperties ? Object.values(schema.patternProperties)[0] : schema.additionalProperties;
      return values && typeof values === 'object' ? el('span', {}, 'map of ', typeOf(values)) : 'object';
    }
    return (schema.type || 'any') + (schema.format ? ' (' + schema.format + ')' : '');
  }

  function notes(schema) {
    const out = [];
    if (schema.description) out.push(schema.description);
    if (schema.pattern) out.push('pattern ' + schema.pattern);
    if (schema.minLength !== undefined || schema.maxLength !== undefined)
      out.push('length ' + (schema.minLength ?? 0) + '..' + (schema.maxLength ?? ''));
    if (schema.minimum !== undefined || schema.maximum !== undefined)
      out.push('range ' + (schema.minimum ?? '') + '..' + (schema.maximum ?? ''));
    if (schema.maxItems !== undefined) out.push('at most ' + schema.maxItems + ' items');
    if (schema.default !== undefined) out.push('default ' + JSON.stringify(schema.default));
    return out.join('; ');
  }

  function schemaTree(schema, depth) {
    const target = schema && schema.type === 'array' && schema.items && schema.items.properties ? schema.items : schema;
    if (!target || !target.properties || depth > 4) return null;
    const required = new Set(target.required || []);
    return el('ul', { class: 'schema' }, Object.entries(target.properties).map(([name, property]) =>
      el('li', {}, el('code', {}, name), required.has(name) ? '' : '?', ': ', typeOf(property),
        notes(property) ? el('span', { class: 'muted' }, ' — ', notes(property)) : null,
        property.$ref ? null : schemaTree(property, depth + 1))));
  }

  // A named schema is shown by name and with its fields, so a reader need not jump away.
  function schemaBlock(schema) {
    return el('div', {}, typeOf(schema), schemaTree(resolve(schema), 0));
  }

  function operationView(path, method, op) {
    const body = el('div', {});
    if (op.description) body.append(el('p', {}, op.description));
    body.append(el('p', { class: 'muted' }, op.security && op.security.length === 0 ? 'Public: no token needed.' : 'Needs Authorization: Bearer <access token>.'));
    if (op.parameters && op.parameters.length) {
      body.append(el('h4', {}, 'Parameters'), el('table', {},
        el('tr', {}, el('th', {}, 'name'), el('th', {}, 'in'), el('th', {}, 'type'), el('th', {}, 'notes')),
        op.parameters.map((p) => el('tr', {}, el('td', {}, el('code', {}, p.name), p.required ? '' : '?'),
          el('td', {}, p.in), el('td', {}, typeOf(p.schema)), el('td', { class: 'muted' }, notes(resolve(p.schema)))))));
    }
    if (op.requestBody) {
      const media = Object.entries(op.requestBody.content)[0];
      body.append(el('h4', {}, 'Request body (' + media[0] + ')'), schemaBlock(media[1].schema));
    }
    body.append(el('h4', {}, 'Responses'));
    const table = el('table', {});
    for (const [status, response] of Object.entries(op.responses)) {
      const media = response.content ? Object.entries(response.content)[0] : undefined;
      table.append(el('tr', {}, el('td', {}, el('code', {}, status)), el('td', {}, response.description),
        el('td', {}, media ? schemaBlock(media[1].schema) : '')));
    }
    body.append(table);
    const locked = !(op.security && op.security.length === 0);
    return el('details', { class: 'op', id: op.operationId },
      el('summary', {}, el('span', { class: 'method ' + method }, method.toUpperCase()), ' ', el('code', {}, path), ' ',
        el('span', { class: 'muted' }, op.summary), locked ? el('span', { class: 'lock', title: 'needs a token' }, '🔒') : null),
      body);
  }

  const nav = el('nav', {}, el('strong', {}, doc.info.title));
  const main = el('main', {}, el('h1', {}, doc.info.title + ' ' + doc.info.version),
    el('p', {}, doc.info.description),
    el('p', {}, 'The machine-readable document: ', el('a', { href: ${JSON.stringify(OPENAPI_PATH)} }, ${JSON.stringify(OPENAPI_PATH)}), ' (OpenAPI ' + doc.openapi + ').'));
  for (const tag of doc.tags) {
    nav.append(el('a', { href: '#tag-' + tag.name }, tag.name));
    const section = el('section', { id: 'tag-' + tag.name }, el('h2', {}, tag.name), el('p', { class: 'muted' }, tag.description));
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (op.tags.includes(tag.name)) section.append(operationView(path, method, op));
      }
    }
    main.append(section);
  }
  nav.append(el('a', { href: '#schemas' }, 'schemas'));
  const schemas = el('section', { id: 'schemas' }, el('h2', {}, 'Schemas'));
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    schemas.append(el('div', { id: 'schema-' + name }, el('h3', {}, name), notes(schema) ? el('p', { class: 'muted' }, notes(schema)) : null, schemaBlock(schema)));
  }
  main.append(schemas);
  document.body.replaceChildren(nav, main);
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
})();
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
// Only this page's own script and style run: nothing inline that a document string could inject.
const CSP = `default-src 'none'; script-src ${sha256(SCRIPT)}; style-src ${sha256(STYLE)}; img-src 'self'`;

/** The reference page: the document inline and a small renderer, nothing fetched from elsewhere. */
export function referencePage(document: OpenApiDocument): string {
  // `<` escaped so that no string in the document can close the script element.
  const json = JSON.stringify(document).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.info.title)} reference</title>
<style>${STYLE}</style>
</head>
<body>
<noscript>This page renders <a href="${OPENAPI_PATH}">${OPENAPI_PATH}</a> with JavaScript.</noscript>
<script type="application/json" id="openapi">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** GET /api/docs: the browsable API reference, public. */
export function registerApiReference(app: ServerApp): void {
  const documentOf = openApiDocumentOf(app);
  let page: string | undefined;
  app.get(
    REFERENCE_PATH,
    {
      config: { permission: 'public' },
      schema: {
        summary: 'The API reference, as an HTML page',
        response: { 200: Type.String({ contentMediaType: 'text/html' }) },
      },
    },
    async (_request, reply) => {
      page ??= referencePage(documentOf());
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', CSP)
        .send(page);
    },
  );
}
