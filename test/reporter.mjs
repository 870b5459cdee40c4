// Counts web-test-runner's results into a JSON file so the test script can print one total, and
// the names of the failed tests with the first line of each error (CI keeps only the end of the
// output).
import { writeFileSync } from 'node:fs';

function count(suite, tally, file, path = []) {
  for (const test of suite?.tests ?? []) {
    if (test.skipped) tally.skipped++;
    else if (test.passed) tally.passed++;
    else {
      tally.failed++;
      const reason = test.error?.message?.split('\n')[0];
      tally.failures.push(`${file}: ${[...path, test.name].join(' > ')}${reason ? ` (${reason})` : ''}`);
    }
  }
  for (const child of suite?.suites ?? []) count(child, tally, file, [...path, child.name]);
}

export function countingReporter(engine) {
  return {
    onTestRunFinished({ sessions }) {
      const tally = { passed: 0, failed: 0, skipped: 0, failures: [] };
      for (const session of sessions) {
        count(session.testResults, tally, session.testFile);
        // A file that failed to load has no test results: count it as a failure.
        if (!session.passed && !session.testResults?.tests?.length && !session.testResults?.suites?.length) {
          tally.failed++;
          tally.failures.push(`${session.testFile}: did not load or run`);
        }
      }
      if (process.env.PEERKIT_COUNTS) writeFileSync(process.env.PEERKIT_COUNTS, JSON.stringify({ engine, ...tally }));
    },
  };
}
