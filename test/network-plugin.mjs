// A web-test-runner command that breaks the network under a live call and mends it, in two ways:
// `silence` drops every UDP packet (nftables), as a dead Wi-Fi or router does, and `address`
// takes the namespace's outside address away, as an interface going down does. Peers in one page
// meet on that address (198.18.7.1); the test servers listen on TCP loopback, which stays. Taking
// the link down is not enough: traffic between two local addresses goes through loopback
// whatever their link's state. Only inside the private namespace that scripts/netns.sh makes:
// anywhere else this would cut the machine's own network.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const LINK = 'pk0';
const ADDRESS = '198.18.7.1/24';
const GATEWAY = '198.18.7.2';
const TABLE = 'peerkit_fault';

const faults = {
  async silence(broken) {
    if (broken) await run('nft', [`add table inet ${TABLE}; add chain inet ${TABLE} in { type filter hook input priority 0; }; add rule inet ${TABLE} in meta l4proto udp drop`]);
    else await run('nft', [`delete table inet ${TABLE}`]).catch(() => {});
  },
  async address(broken) {
    if (broken) return void (await run('ip', ['addr', 'flush', 'dev', LINK]));
    const { stdout } = await run('ip', ['-o', 'addr', 'show', 'dev', LINK]);
    if (!stdout.includes(ADDRESS)) await run('ip', ['addr', 'add', ADDRESS, 'dev', LINK]);
    await run('ip', ['route', 'replace', 'default', 'via', GATEWAY]);
  },
};

/** Why `fault` cannot be made here, or undefined when it can. */
async function unavailable(fault) {
  if (process.env.PEERKIT_NETNS !== 'inside') return 'not inside the private network namespace (needs root)';
  if (fault === 'silence') return run('nft', ['--version']).then(() => undefined, () => 'nft is not installed (Debian package nftables)');
  return undefined;
}

/** `network` command: payload `{ fault: 'silence' | 'address', broken: boolean }`. */
export function networkPlugin() {
  return {
    name: 'peerkit-network',
    async executeCommand({ command, payload }) {
      if (command !== 'network') return undefined;
      const { fault, broken } = payload ?? {};
      if (!(fault in faults)) throw new Error(`unknown network fault ${fault}`);
      const reason = await unavailable(fault);
      if (reason !== undefined) return { unavailable: reason };
      await faults[fault](broken === true);
      return { broken: broken === true };
    },
  };
}
