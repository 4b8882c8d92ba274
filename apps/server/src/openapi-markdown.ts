import type { JsonSchema, OpenApiDocument, OpenApiOperation } from './openapi.js';

// The OpenAPI document as a Markdown page (docs/reference/api.md), for reading without a server.

const REF_PREFIX = '#/components/schemas/';

function refName(schema: JsonSchema): string | undefined {
  return typeof schema.$ref === 'string' && schema.$ref.startsWith(REF_PREFIX)
    ? schema.$ref.slice(REF_PREFIX.length)
    : undefined;
}

function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

function asSchema(value: unknown): JsonSchema {
  return typeof value === 'object' && value !== null ? (value as JsonSchema) : {};
}

/** A short type: `string`, `Vm[]`, `"a" \| "b"`, `map of string`, links to named schemas. */
function typeText(schema: JsonSchema): string {
  const name = refName(schema);
  if (name !== undefined) return `[${name}](#${name.toLowerCase()})`;
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (Array.isArray(schema.enum)) {
    return schema.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' \\| ');
  }
  const options = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(options)) {
    return options.map((option) => typeText(asSchema(option))).join(' \\| ');
  }
  if (schema.type === 'array') return `${typeText(asSchema(schema.items))}[]`;
  if (schema.type === 'object' && schema.properties === undefined) {
    const values =
      schema.patternProperties !== undefined
        ? Object.values(asSchema(schema.patternProperties))[0]
        : schema.additionalProperties;
    return typeof values === 'object' && values !== null
      ? `map of ${typeText(asSchema(values))}`
      : 'object';
  }
  const type = typeof schema.type === 'string' ? schema.type : 'any';
  return typeof schema.format === 'string' ? `${type} (${schema.format})` : type;
}

function notes(schema: JsonSchema): string {
  const out: string[] = [];
  const n = (key: string) => (typeof schema[key] === 'number' ? String(schema[key]) : undefined);
  if (typeof schema.description === 'string') out.push(schema.description);
  if (typeof schema.pattern === 'string') out.push(`pattern \`${schema.pattern}\``);
  if (n('minLength') !== undefined || n('maxLength') !== undefined) {
    out.push(`length ${n('minLength') ?? 0}..${n('maxLength') ?? ''}`);
  }
  if (n('minimum') !== undefined || n('maximum') !== undefined) {
    out.push(`range ${n('minimum') ?? ''}..${n('maximum') ?? ''}`);
  }
  if (n('maxItems') !== undefined) out.push(`at most ${n('maxItems')} items`);
  if (n('maxProperties') !== undefined) out.push(`at most ${n('maxProperties')} keys`);
  if (schema.default !== undefined) out.push(`default \`${JSON.stringify(schema.default)}\``);
  return out.join('; ');
}

/** Field rows of an object schema; nested anonymous objects are flattened as `a.b`. */
function fieldRows(schema: JsonSchema, prefix = '', depth = 0): string[] {
  const target =
    schema.type === 'array' && asSchema(schema.items).properties !== undefined
      ? asSchema(schema.items)
      : schema;
  const properties = asSchema(target.properties);
  const required = Array.isArray(target.required) ? (target.required as string[]) : [];
  const rows: string[] = [];
  for (const [name, value] of Object.entries(properties)) {
    const property = asSchema(value);
    const path = `${prefix}${name}`;
    rows.push(
      `| \`${path}\` | ${cell(typeText(property))} | ${required.includes(name) ? 'yes' : 'no'} | ${cell(notes(property))} |`,
    );
    if (property.properties !== undefined && depth < 3) {
      rows.push(...fieldRows(property, `${path}.`, depth + 1));
    }
  }
  return rows;
}

function fieldsTable(schema: JsonSchema): string[] {
  const rows = fieldRows(schema);
  if (rows.length === 0) return [];
  return ['', '| field | type | required | notes |', '| --- | --- | --- | --- |', ...rows];
}

function isPublic(operation: OpenApiOperation): boolean {
  return operation.security !== undefined && operation.security.length === 0;
}

function operationSection(path: string, method: string, operation: OpenApiOperation): string[] {
  const lines = [`### \`${method.toUpperCase()} ${path}\``, '', operation.summary + '.'];
  if (operation.description !== undefined) lines.push('', operation.description);
  lines.push(
    '',
    isPublic(operation)
      ? '**Auth:** public, no token.'
      : '**Auth:** `Authorization: Bearer <access token>`.',
  );
  if (operation.parameters !== undefined && operation.parameters.length > 0) {
    lines.push(
      '',
      '**Parameters**',
      '',
      '| name | in | type | required | notes |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const parameter of operation.parameters) {
      lines.push(
        `| \`${parameter.name}\` | ${parameter.in} | ${cell(typeText(parameter.schema))} | ${parameter.required ? 'yes' : 'no'} | ${cell(notes(parameter.schema))} |`,
      );
    }
  }
  if (operation.requestBody !== undefined) {
    for (const [media, { schema }] of Object.entries(operation.requestBody.content)) {
      lines.push(
        '',
        `**Request body** (\`${media}\`): ${typeText(schema)}`,
        ...fieldsTable(schema),
      );
    }
  }
  lines.push('', '**Responses**', '', '| status | body | meaning |', '| --- | --- | --- |');
  for (const [status, response] of Object.entries(operation.responses)) {
    const media = Object.entries(response.content ?? {})[0];
    const body = media === undefined ? '-' : `${typeText(media[1].schema)} (\`${media[0]}\`)`;
    lines.push(`| ${status} | ${cell(body)} | ${cell(response.description)} |`);
  }
  return lines;
}

function schemaSection(name: string, schema: JsonSchema): string[] {
  const lines = [`### ${name}`];
  const about = notes(schema);
  if (about !== '') lines.push('', about);
  if (schema.properties !== undefined) {
    lines.push(...fieldsTable(schema));
  } else {
    lines.push('', typeText(schema));
  }
  return lines;
}

/** The whole reference: endpoints by tag, then every named schema. */
export function renderApiReference(document: OpenApiDocument): string {
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
  );
  const lines = [
    `# ${document.info.title} reference`,
    '',
    '<!-- Generated by `npm run docs` (scripts/gen-api-reference.mjs) from the OpenAPI document; do not edit. -->',
    '',
    `Version ${document.info.version}, OpenAPI ${document.openapi}. A running server serves this document at ` +
      '`GET /api/v1/openapi.json` and a browsable reference at `GET /api/docs`.',
    '',
    document.info.description,
    '',
    '| method and path | what | auth |',
    '| --- | --- | --- |',
    ...operations.map(
      ({ path, method, operation }) =>
        `| \`${method.toUpperCase()} ${path}\` | ${cell(operation.summary)} | ${isPublic(operation) ? 'public' : 'token'} |`,
    ),
  ];
  for (const tag of document.tags) {
    lines.push('', `## ${tag.name}`, '', tag.description);
    for (const { path, method, operation } of operations) {
      if (operation.tags.includes(tag.name)) {
        lines.push('', ...operationSection(path, method, operation));
      }
    }
  }
  lines.push('', '## Schemas');
  for (const [name, schema] of Object.entries(document.components.schemas)) {
    lines.push('', ...schemaSection(name, schema));
  }
  return `${lines.join('\n')}\n`;
}
