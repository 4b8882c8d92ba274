import type { SchedulerExplanation } from '@novacron/api';
import { renderTable } from '../output.js';

/**
 * A scheduler explanation for people: the host it would take (or that none fits), each filter
 * with the hosts it removed and why, then every candidate with its score and each scorer's part.
 */
export function renderExplanation(explanation: SchedulerExplanation): string {
  const lines = [
    explanation.chosen === null
      ? `no host fits (policy ${explanation.policy}, ${explanation.hosts} hosts)`
      : `would place on ${explanation.chosen} (policy ${explanation.policy}, ${explanation.hosts} hosts)`,
    `reason: ${explanation.reason}`,
  ];
  for (const { filter, removed } of explanation.filters) {
    lines.push(`filter ${filter} removed ${removed.length}:`);
    for (const { host, reason } of removed) lines.push(`  ${host}: ${reason}`);
  }
  if (explanation.candidates.length > 0) {
    const scorers = Object.keys(explanation.candidates[0]?.scores ?? {});
    lines.push('candidates, best first:');
    lines.push(
      renderTable(
        [
          { header: 'HOST', value: (c: SchedulerExplanation['candidates'][number]) => c.host },
          { header: 'SCORE', value: (c) => c.score.toFixed(3) },
          ...scorers.map((name) => ({
            header: `${name.toUpperCase()} (x${explanation.candidates[0]?.scores[name]?.weight ?? 1})`,
            value: (c: SchedulerExplanation['candidates'][number]) =>
              (c.scores[name]?.value ?? 0).toFixed(3),
          })),
        ],
        explanation.candidates,
      ),
    );
  }
  return lines.join('\n');
}
