// Checks the messages of the commits made since the base named in .ci/commit-lint-base (the rules
// apply from that commit on; older history keeps its long subjects). Exits 1 on any problem.
// Usage: node test/dist/src/repo/check-commits.js [REPO_DIR]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { messageProblems } from './commit-message.js';

const repo = resolve(process.argv[2] ?? '.');
const git = (...args: string[]): string => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
const base = readFileSync(join(repo, '.ci/commit-lint-base'), 'utf8').trim();

let range: string;
try {
  git('cat-file', '-e', `${base}^{commit}`);
  range = `${base}..HEAD`;
} catch {
  // A shallow clone may not hold the base: check the newest commit alone.
  console.warn(`check-commits: base ${base.slice(0, 12)} is not in this clone; checking HEAD only`);
  range = 'HEAD~1..HEAD';
}

const log = git('log', '--format=%H%x00%B%x01', range);
let bad = 0;
let count = 0;
for (const entry of log.split('\x01')) {
  const [hash, message] = entry.replace(/^\n/, '').split('\x00');
  if (!hash || message === undefined) continue;
  count++;
  const problems = messageProblems(message);
  if (problems.length === 0) continue;
  bad++;
  console.error(`${hash.slice(0, 12)} ${message.split('\n')[0]}`);
  for (const p of problems) console.error(`  - ${p}`);
}
console.log(`check-commits: ${count} commit(s) since ${base.slice(0, 12)}, ${bad} with problems`);
process.exit(bad > 0 ? 1 : 0);
