import { runInNewContext } from 'node:vm';
import { ErrorBody, IdOrNameParams, Operation, VmCreate, VmListQuery, VmPage } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, type OpenApiDocument } from '../../openapi.js';
import { referencePage } from './reference.js';

/** Just enough of the DOM for the page's renderer: elements, text nodes, attributes. */
class MiniNode {
  readonly children: MiniNode[] = [];
  append(...nodes: MiniNode[]): void {
    this.children.push(...nodes);
  }
  get textContent(): string {
    return this.children.map((child) => child.textContent).join('');
  }
}

class MiniText extends MiniNode {
  constructor(readonly text: string) {
    super();
  }
  override get textContent(): string {
    return this.text;
  }
}

class MiniElement extends MiniNode {
  readonly attributes: Record<string, string> = {};
  constructor(readonly tag: string) {
    super();
  }
  setAttribute(name: string, value: string): void {
    this.attributes[name] = value;
  }
  replaceChildren(...nodes: MiniNode[]): void {
    this.children.splice(0, this.children.length, ...nodes);
  }
  scrollIntoView(): void {}
  *walk(): Generator<MiniElement> {
    yield this;
    for (const child of this.children) if (child instanceof MiniElement) yield* child.walk();
  }
}

/** Runs the page's script against the mini DOM; answers the rendered body. */
function render(page: string): MiniElement {
  const json = /<script type="application\/json" id="openapi">([\s\S]*?)<\/script>/.exec(page)?.[1];
  const script = /<script>([\s\S]*?)<\/script>/.exec(page)?.[1];
  expect(json).toBeDefined();
  expect(script).toBeDefined();
  const body = new MiniElement('body');
  const document = {
    body,
    getElementById: (id: string) =>
      id === 'openapi'
        ? { textContent: json }
        : ([...body.walk()].find((el) => el.attributes.id === id) ?? null),
    createElement: (tag: string) => new MiniElement(tag),
    createTextNode: (text: string) => new MiniText(text),
  };
  runInNewContext(script ?? '', { document, Node: MiniNode, location: { hash: '' } });
  return body;
}

function sampleDocument(description: string): OpenApiDocument {
  return buildOpenApiDocument(
    [
      {
        method: 'POST',
        url: '/api/v1/vms',
        websocket: false,
        schema: { body: VmCreate, response: { 202: Operation, '4xx': ErrorBody }, description },
      },
      {
        method: 'GET',
        url: '/api/v1/vms',
        websocket: false,
        schema: { querystring: VmListQuery, response: { 200: VmPage } },
      },
      {
        method: 'GET',
        url: '/api/v1/vms/:id',
        websocket: false,
        schema: { params: IdOrNameParams, response: { 200: VmPage } },
      },
      { method: 'GET', url: '/healthz', websocket: false, schema: {} },
    ],
    { version: '9.9.9', isPublic: (path) => !path.startsWith('/api/v1/') },
  );
}

describe('the API reference page', () => {
  it('renders every operation by tag, with its parameters, body and responses', () => {
    const body = render(referencePage(sampleDocument('Creates a VM.')));
    const text = body.textContent;
    for (const expected of [
      'NovaCron API 9.9.9',
      'POST /api/v1/vms',
      'GET /api/v1/vms/{id}',
      'Creates a VM.',
      'Request body (application/json)',
      // The body's fields, shown with the operation and not only in the schema section.
      'Request body (application/json)VmCreatename: string',
      'memoryMiB',
      '4XX',
      'Needs Authorization: Bearer',
      'Public: no token needed.',
    ]) {
      expect(text).toContain(expected);
    }
    const ids = [...body.walk()].map((el) => el.attributes.id);
    expect(ids).toEqual(expect.arrayContaining(['tag-vms', 'tag-health', 'schema-VmCreate']));
    const links = [...body.walk()].filter((el) => el.tag === 'a').map((el) => el.attributes.href);
    expect(links).toContain('#schema-Operation');
    expect(links).toContain('/api/v1/openapi.json');
  });

  it('shows document strings as text, never as markup', () => {
    const hostile = '</script><img src=x onerror=alert(1)>';
    const page = referencePage(sampleDocument(hostile));
    expect(page).not.toContain(hostile);
    const body = render(page);
    expect(body.textContent).toContain(hostile);
    expect([...body.walk()].some((el) => el.tag === 'img')).toBe(false);
  });
});
