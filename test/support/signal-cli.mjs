// Starts the peerkit-signal CLI in its own process, as a user would with npx, so a test can read
// its JSON log lines or kill it with SIGKILL.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url));

/**
 * Resolves once the CLI logs that it listens: its child process and that `listening` entry
 * (host, port). Rejects with its stderr if it exits first. `bin` runs another copy as a program
 * (an installed `node_modules/.bin/peerkit-signal`) instead of this repository's build.
 */
export function startSignalCli(args, { bin, ...options } = {}) {
  const [command, first] = bin === undefined ? [process.execPath, [CLI]] : [bin, []];
  const child = spawn(command, [...first, ...args], { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  let stderr = '';
  const listening = new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const line = stderr.split('\n').find((l) => l.includes('"listening"'));
      if (line !== undefined) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`peerkit-signal exited with ${code}: ${stderr}`)));
  });
  return { child, listening };
}
