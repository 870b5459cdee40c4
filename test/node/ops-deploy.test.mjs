// deploy/peerkit-signal.service as systemd reads it: `systemd-analyze verify` on the unit (as the
// template instance it is installed as), and on a broken copy, to show the check can fail.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCommand } from '../../server/dist/config.js';

const UNIT = new URL('../../deploy/peerkit-signal.service', import.meta.url);
const CONFIG = new URL('../../deploy/config.example.json', import.meta.url);

function verify(path) {
  return spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
}

const analyzer = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
const skip = analyzer.error !== undefined || analyzer.status !== 0 ? 'systemd-analyze is not installed (apt-get install systemd)' : false;

test('systemd-analyze verify accepts the unit as an instance of its template, without a warning', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'peerkit-unit-'));
  copyFileSync(UNIT, join(dir, 'peerkit-signal@.service'));
  const result = verify(join(dir, 'peerkit-signal@8787.service'));
  assert.equal(result.stderr, '');
  assert.equal(result.status, 0);
});

test('systemd-analyze verify rejects a broken copy of the unit (the check above can fail)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'peerkit-unit-'));
  const broken = readFileSync(UNIT, 'utf8').replace('KillSignal=SIGTERM', 'KillSignall=SIGTERM').replace('/usr/bin/env', '/nonexistent/env');
  writeFileSync(join(dir, 'peerkit-signal@.service'), broken);
  const result = verify(join(dir, 'peerkit-signal@8787.service'));
  assert.match(result.stderr, /Unknown key 'KillSignall'/);
  assert.notEqual(result.status, 0);
});

test('the unit starts peerkit-signal with the example config, and that config is valid', () => {
  const unit = readFileSync(UNIT, 'utf8');
  const exec = /^ExecStart=\/usr\/bin\/env peerkit-signal (.*)$/m.exec(unit);
  assert.ok(exec, 'ExecStart runs peerkit-signal');
  const args = exec[1].replace('%i', '8787').replace('/etc/peerkit-signal/config.json', CONFIG.pathname).split(' ');
  const command = readCommand(args, {}, (path) => readFileSync(path, 'utf8'));
  assert.equal(command.kind, 'run');
  assert.equal(command.settings.port, 8787);
  assert.equal(command.settings.server.trustProxy, 1, 'behind nginx');
  assert.ok(/TimeoutStopSec=(\d+)/.exec(unit)[1] * 1000 > command.settings.server.drainMs + 3000, 'systemd waits out the drain and the close');
});
