// Counts web-test-runner's results into a JSON file so the test script can print one total.
import { writeFileSync } from 'node:fs';

function count(suite, tally) {
  for (const test of suite?.tests ?? []) {
    if (test.skipped) tally.skipped++;
    else if (test.passed) tally.passed++;
    else tally.failed++;
  }
  for (const child of suite?.suites ?? []) count(child, tally);
}

export function countingReporter(engine) {
  return {
    onTestRunFinished({ sessions }) {
      const tally = { passed: 0, failed: 0, skipped: 0 };
      for (const session of sessions) {
        count(session.testResults, tally);
        // A file that failed to load has no test results: count it as a failure.
        if (!session.passed && !session.testResults?.tests?.length && !session.testResults?.suites?.length) tally.failed++;
      }
      if (process.env.PEERKIT_COUNTS) writeFileSync(process.env.PEERKIT_COUNTS, JSON.stringify({ engine, ...tally }));
    },
  };
}
