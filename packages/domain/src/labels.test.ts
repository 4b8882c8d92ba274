import { describe, expect, it } from 'vitest';
import { DomainError } from './errors.js';
import { mergeLabels, parseLabelSelectors } from './labels.js';

describe('mergeLabels', () => {
  it('sets, replaces and removes keys without touching the input', () => {
    const labels = { a: '1', b: '2' };
    expect(mergeLabels(labels, { b: null, c: '3', a: 'x' })).toEqual({ a: 'x', c: '3' });
    expect(labels).toEqual({ a: '1', b: '2' });
    expect(mergeLabels(labels, { nothere: null })).toEqual(labels);
  });

  it('keeps __proto__ an ordinary key', () => {
    const merged = mergeLabels({}, JSON.parse('{"__proto__":"x"}') as Record<string, string>);
    expect(Object.keys(merged)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
  });
});

describe('parseLabelSelectors', () => {
  it('splits at the first =', () => {
    expect(parseLabelSelectors(['tier=web', 'q=a=b', 'empty='])).toEqual({
      tier: 'web',
      q: 'a=b',
      empty: '',
    });
  });

  it.each([['novalue'], ['=v']])('refuses %s', (selector) => {
    expect(() => parseLabelSelectors([selector])).toThrow(DomainError);
  });

  it('refuses one key selected with two values, accepts a repeat', () => {
    expect(parseLabelSelectors(['a=1', 'a=1'])).toEqual({ a: '1' });
    expect(() => parseLabelSelectors(['a=1', 'a=2'])).toThrow(/two different values/);
  });
});
