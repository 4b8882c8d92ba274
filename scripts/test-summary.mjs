// Prints "N passed, N failed[, N skipped]" from vitest's JSON report; a missing report is a failure.
import { readFileSync } from 'node:fs';

const path = process.argv[2] ?? 'reports/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(path, 'utf8'));
} catch {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
// A file that failed to load has no failed test of its own, yet it is a failure.
const brokenFiles = report.testResults.filter(
  (file) => file.status === 'failed' && !file.assertionResults.some((t) => t.status === 'failed'),
).length;
const failed = report.numFailedTests + brokenFiles;
const skipped = report.numPendingTests + report.numTodoTests;
console.log(
  `${report.numPassedTests} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`,
);
process.exit(failed > 0 ? 1 : 0);
