// Writes package.json's typesVersions from its exports: TypeScript's node10 resolution ignores
// `exports`, and typesVersions is how it finds the declarations of each subpath. Run after
// adding a subpath export; test/user/package.test.mjs fails when the two disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const path = fileURLToPath(new URL('../package.json', import.meta.url));

/** typesVersions for the `exports` of a manifest. */
export function typesVersionsOf(manifest) {
  const map = {};
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (subpath !== '.' && typeof target === 'object' && target.types) map[subpath.slice(2)] = [target.types];
  }
  return { '*': map };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  manifest.typesVersions = typesVersionsOf(manifest);
  writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
}
