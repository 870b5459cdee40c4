// Starts Debian's nginx, unprivileged ports and files in a temporary folder, with the deployment
// site deploy/nginx/peerkit-signal.conf in front of the given peerkit-signal ports, and a
// self-signed certificate for 127.0.0.1 made by openssl, for tests and the load bench:
//   const proxy = await startNginx([portA, portB]);   // null when nginx or openssl is missing
//   ... proxy.url (wss://127.0.0.1:<port>/) ...; await proxy.stop();
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { freePort } from './redis.mjs';

const SITE = new URL('../deploy/nginx/peerkit-signal.conf', import.meta.url);
const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Why nginx-backed tests cannot run here, or undefined when they can. */
export function nginxMissing() {
  for (const [bin, args] of [[NGINX, ['-v']], ['openssl', ['version']]]) {
    const found = spawnSync(bin, args, { stdio: 'ignore' });
    if (found.error !== undefined || found.status !== 0) return `${bin} is not installed (apt-get install nginx openssl)`;
  }
  return undefined;
}

/** A self-signed certificate for 127.0.0.1 and localhost, valid one day. */
export function selfSignedCertificate(dir) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { cert, key };
}

/** Replaces `pattern` in the site, failing if the site no longer has it: the test must run the real file. */
function substitute(text, pattern, replacement) {
  if (!pattern.test(text)) throw new Error(`deploy/nginx/peerkit-signal.conf no longer matches ${pattern}`);
  return text.replace(pattern, replacement);
}

/** The deployment site with test ports and certificate, and no port-80 redirect. */
export function renderSite(upstreamPorts, port, { cert, key }) {
  let site = readFileSync(SITE, 'utf8');
  site = substitute(site, /server \{\n {4}listen 80;[\s\S]*?\n\}\n/, '');
  site = substitute(site, / {4}listen 443 ssl;\n {4}listen \[::\]:443 ssl;/, `    listen ${port} ssl;`);
  site = substitute(site, /ssl_certificate +\S+;/, `ssl_certificate ${cert};`);
  site = substitute(site, /ssl_certificate_key +\S+;/, `ssl_certificate_key ${key};`);
  site = substitute(site, /( {4}server 127\.0\.0\.1:\d+ .*\n)+/, upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=10s;\n`).join(''));
  return site;
}

/** Resolves once a TLS handshake on `port` succeeds. */
function handshakes(port) {
  return new Promise((resolve) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** CPU seconds (user + system) and resident bytes of nginx's master and workers, from /proc. */
function usage(masterPid) {
  const ticks = 100; // USER_HZ: 100 on every Linux architecture Debian ships
  let cpu = 0;
  let rss = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name, which may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pid) !== masterPid && Number(fields[1]) !== masterPid) continue;
    cpu += (Number(fields[11]) + Number(fields[12])) / ticks;
    rss += Number(fields[21]) * 4096;
  }
  return { cpu, rss };
}

/**
 * Starts nginx with the site in front of `upstreamPorts`; resolves once it answers TLS, or null
 * when nginx or openssl is missing. `accessLog()` reads its access log, `usage()` its CPU seconds
 * and resident bytes. `connections` bounds the connections of its one worker, both sides counted.
 */
export async function startNginx(upstreamPorts, { connections = 1024 } = {}) {
  if (nginxMissing()) return null;
  const dir = mkdtempSync(join(tmpdir(), 'peerkit-nginx-'));
  const certificate = selfSignedCertificate(dir);
  const port = await freePort();
  writeFileSync(join(dir, 'site.conf'), renderSite(upstreamPorts, port, certificate));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${join(dir, kind)};`).join('\n');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
user root;
worker_processes 1;
worker_rlimit_nofile ${connections * 2};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections ${connections}; }
http {
    access_log ${join(dir, 'access.log')};
${temp}
    include ${join(dir, 'site.conf')};
}
`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const deadline = Date.now() + 10000;
  while (!(await handshakes(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start: ${stderr}${readLog(join(dir, 'error.log'))}`);
    }
    await sleep(50);
  }
  return {
    port,
    url: `wss://127.0.0.1:${port}/`,
    https: `https://127.0.0.1:${port}`,
    certificate,
    accessLog: () => readLog(join(dir, 'access.log')),
    usage: () => usage(child.pid),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await Promise.race([once(child, 'exit'), sleep(3000).then(() => child.kill('SIGKILL'))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readLog(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
