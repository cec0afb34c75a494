import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { messageProblems } from './commit-message.js';

describe('commit messages', () => {
  it('accepts a short component: summary subject with a wrapped body', () => {
    assert.deepEqual(messageProblems('hypervisor/virtio: restore goes through each device\n\nWhy, briefly.\n'), []);
    assert.deepEqual(messageProblems('api-gateway, common: one runService()'), []);
    assert.deepEqual(messageProblems("Merge branch 'refactor'"), []);
  });

  it('refuses a subject over 72 characters, without a component, or with a period', () => {
    const long = `hypervisor: ${'x'.repeat(61)}`;
    assert.equal(long.length, 73);
    assert.match(messageProblems(long).join(), /73 characters/);
    assert.deepEqual(messageProblems(long.slice(0, 72)), []);
    assert.match(messageProblems('Fix the thing').join(), /component: summary/);
    assert.match(messageProblems('cli: fix the thing.').join(), /period/);
  });

  it('refuses a body that is not separated or not wrapped, except URLs, code and tables', () => {
    assert.match(messageProblems('cli: x\nno blank line').join(), /second line/);
    assert.match(messageProblems(`cli: x\n\n${'word '.repeat(20)}`).join(), /body line 3/);
    assert.deepEqual(messageProblems(`cli: x\n\nsee https://example.org/${'a'.repeat(80)}`), []);
    assert.deepEqual(messageProblems(`cli: x\n\n    ${'code '.repeat(20)}`), []);
    assert.deepEqual(messageProblems(`cli: x\n\n| ${'cell | '.repeat(20)}`), []);
  });

  it('check-commits fails on a new long subject and passes on good ones', () => {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'check-commits.js');
    const repo = mkdtempSync(join(tmpdir(), 'hn-commits-'));
    try {
      const git = (...args: string[]) =>
        execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { encoding: 'utf8' });
      git('init', '-q');
      git(
        'commit',
        '-q',
        '--allow-empty',
        '-m',
        `an old commit with a subject far longer than the rules allow ${'x'.repeat(40)}`,
      );
      mkdirSync(join(repo, '.ci'));
      writeFileSync(join(repo, '.ci/commit-lint-base'), git('rev-parse', 'HEAD'));
      git('commit', '-q', '--allow-empty', '-m', 'ci: a good subject');
      const run = () => execFileSync(process.execPath, [script, repo], { encoding: 'utf8', stdio: 'pipe' });
      assert.match(run(), /1 commit\(s\).*0 with problems/);
      git('commit', '-q', '--allow-empty', '-m', `ci: ${'y'.repeat(80)}`);
      assert.throws(run, (e: { status: number; stderr: string }) => e.status === 1 && /84 characters/.test(e.stderr));
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
