import { expect, test } from 'vitest';
import { selectorMatches } from '../../../agent/kube-label-selector.js';

const labels = { app: 'web', tier: 'frontend' };

test.each([
  [{}, true],
  [{ matchLabels: { app: 'web' } }, true],
  [{ matchLabels: { app: 'db' } }, false],
  [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend', 'edge'] }] }, true],
  [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend'] }] }, false],
  [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['backend'] }] }, true],
  [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
  [{ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
  [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
  [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true],
  [{ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
  [
    { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['x'] }] },
    false,
  ],
  [{ matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, false],
])('%j selects {app: web, tier: frontend}: %s', (selector, expected) => {
  expect(selectorMatches(selector, labels)).toBe(expected);
});
