import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestHistogram } from './request-histogram.js';

describe('the request histogram', () => {
  it('exposes exactly what a prom-client histogram of the same requests exposes', async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const theirs = new Registry();
    const reference = new Histogram({
      name: 'api_seconds',
      help: 'requests "quoted" \\ and\nnewline',
      labelNames: ['method', 'route', 'status'] as const,
      buckets,
      registers: [theirs],
    });
    const ours = new Registry();
    const histogram = new RequestHistogram(
      'api_seconds',
      'requests "quoted" \\ and\nnewline',
      buckets,
    );
    ours.registerMetric(histogram as unknown as Histogram);
    const requests: [string, string, number, number][] = [
      ['GET', '/api/v1/vms/:id', 200, 0.0004],
      ['GET', '/api/v1/vms/:id', 200, 0.001],
      ['GET', '/api/v1/vms/:id', 200, 0.05],
      ['GET', '/api/v1/vms/:id', 404, 2.5],
      ['POST', '/api/v1/vms', 201, 0.3],
      ['GET', 'unmatched', 404, 0.0001],
      ['GET', '/a "quoted" \\ route', 200, 0.02],
    ];
    for (const [method, route, status, seconds] of requests) {
      reference.observe({ method, route, status: String(status) }, seconds);
      histogram.observe(method, route, status, seconds);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    histogram.reset();
    reference.reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
