// Writes the Subresource Integrity hash of the built CDN file into the README's script tags, so
// the pinned URL a user copies is checked by the browser. Run after a build that changes
// dist/peerkit.min.js (`npm run sri`); test/user/package.test.mjs fails while they disagree.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** The integrity value of the CDN file as built. */
export const integrityOfBuild = () => `sha384-${createHash('sha384').update(readFileSync(root('dist/peerkit.min.js'))).digest('base64')}`;

/** Every integrity value the README gives for the CDN file. */
export const integritiesInReadme = () => [...readFileSync(root('README.md'), 'utf8').matchAll(/peerkit\.min\.js" integrity="([^"]+)"/g)].map((m) => m[1]);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = readFileSync(root('README.md'), 'utf8');
  writeFileSync(root('README.md'), readme.replace(/(peerkit\.min\.js" integrity=")[^"]+"/g, `$1${integrityOfBuild()}"`));
  console.log(integrityOfBuild());
}
