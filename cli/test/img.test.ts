// `hypernova img` against the real qemu-img: same JSON, same messages, same exit codes.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imgCommand, parseSize, sizeToStr } from '../src/img.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function img(...args: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await imgCommand(args, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

function qemu(...args: string[]): Run {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function qemuOk(...args: string[]): string {
  const r = qemu(...args);
  assert.equal(r.code, 0, `qemu-img ${args.join(' ')}: ${r.out}${r.err}`);
  return r.out;
}

/** Deterministic bytes (xorshift32). */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    b[i] = s & 0xff;
  }
  return b;
}

const INFO_KEYS = [
  'virtual-size',
  'filename',
  'format',
  'actual-size',
  'cluster-size',
  'backing-filename',
  'full-backing-filename',
  'backing-filename-format',
  'dirty-flag',
  'format-specific',
];

function pick(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(INFO_KEYS.filter((k) => k in o).map((k) => [k, o[k]]));
}

describe('hypernova img', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'hypernova-img-'));
  const p = (name: string): string => join(dir, name);
  const hasQemuImg = spawnSync('qemu-img', ['--version']).status === 0;
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('sizes', () => {
    it('parses qemu-img sizes', () => {
      assert.equal(parseSize('10G'), 10 * 2 ** 30);
      assert.equal(parseSize('512M'), 512 * 2 ** 20);
      assert.equal(parseSize('1024k'), 2 ** 20);
      assert.equal(parseSize('1024K'), 2 ** 20);
      assert.equal(parseSize('1T'), 2 ** 40);
      assert.equal(parseSize('1.5G'), 1.5 * 2 ** 30);
      assert.equal(parseSize('4096'), 4096);
      assert.equal(parseSize('4096b'), 4096);
      for (const bad of ['', 'x', '-1', '10Q', '1.5', '1e9'])
        assert.throws(() => parseSize(bad), /Invalid image size/, bad);
    });

    it('prints sizes like qemu-img', () => {
      assert.equal(sizeToStr(0), '0 B');
      assert.equal(sizeToStr(512), '512 B');
      assert.equal(sizeToStr(200704), '196 KiB');
      assert.equal(sizeToStr(3301376), '3.15 MiB');
      assert.equal(sizeToStr(2 ** 30), '1 GiB');
      assert.equal(sizeToStr(1000 * 1024), '0.977 MiB');
      assert.equal(sizeToStr(10 * 2 ** 40), '10 TiB');
    });
  });

  describe('usage errors', () => {
    it('fails with a message and status 1, or 2 for compare', async () => {
      const r = await img('frobnicate');
      assert.equal(r.code, 1);
      assert.match(r.err, /Command not found: frobnicate/);
      assert.equal((await img('create', '-f', 'qcow2', p('x.qcow2'), 'lots')).code, 1);
      assert.equal((await img('create', '-f', 'vmdk', p('x.vmdk'), '1G')).code, 1);
      assert.equal((await img('create', '-f', 'qcow2', p('x.qcow2'))).code, 1);
      assert.equal((await img('info', p('nope.qcow2'))).code, 1);
      assert.equal((await img('info', '--bogus', p('nope.qcow2'))).code, 1);
      const c = await img('compare', p('nope1'), p('nope2'));
      assert.equal(c.code, 2);
      assert.match(c.err, /not found/);
    });
  });

  describe('against qemu-img', () => {
    before(function () {
      if (!hasQemuImg) {
        console.warn('    (skipped: qemu-img not found; install qemu-utils, see scripts/install-deps.sh)');
        this.skip();
      }
    });

    it('create + info: the JSON matches qemu-img info on every key, the human output too', async () => {
      const images: [string, string[]][] = [
        ['plain.qcow2', ['-f', 'qcow2']],
        ['small.qcow2', ['-f', 'qcow2', '-o', 'cluster_size=4k,refcount_bits=64']],
        ['plain.raw', ['-f', 'raw']],
      ];
      for (const [name, opts] of images) {
        const r = await img('create', ...opts, p(name), '10G');
        assert.equal(r.code, 0, r.err);
        const ours = JSON.parse((await img('info', '--output=json', p(name))).out) as Record<string, unknown>;
        const theirs = JSON.parse(qemuOk('info', '--output=json', p(name))) as Record<string, unknown>;
        assert.deepEqual(pick(ours), pick(theirs), name);
        assert.equal((await img('info', p(name))).out, qemuOk('info', p(name)), name);
      }
      assert.match(
        (await img('create', '-f', 'qcow2', p('q.qcow2'), '1G')).out,
        /^Formatting '.*q.qcow2', fmt=qcow2 cluster_size=65536 .*size=1073741824/,
      );
    });

    it('create -b: relative backing names resolve against the overlay, the size defaults to the base', async () => {
      mkdirSync(p('vm'), { recursive: true });
      writeFileSync(p('base.raw'), bytes(3 << 20, 1));
      qemuOk('convert', '-f', 'raw', '-O', 'qcow2', p('base.raw'), p('base.qcow2'));
      const r = await img('create', '-f', 'qcow2', '-b', '../base.qcow2', '-F', 'qcow2', p('vm/disk.qcow2'));
      assert.equal(r.code, 0, r.err);
      assert.equal((await img('create', '-f', 'qcow2', '-b', '../base.qcow2', p('vm/probed.qcow2'))).code, 0);
      qemuOk('create', '-f', 'qcow2', '-b', '../base.qcow2', '-F', 'qcow2', p('vm/theirs.qcow2'));
      for (const name of ['vm/disk.qcow2', 'vm/probed.qcow2']) {
        const ours = JSON.parse((await img('info', '--output', 'json', p(name))).out) as Record<string, unknown>;
        const theirs = JSON.parse(qemuOk('info', '--output=json', p(name))) as Record<string, unknown>;
        assert.deepEqual(pick(ours), pick(theirs));
        assert.equal(ours['virtual-size'], 3 << 20);
        assert.equal(ours['backing-filename'], '../base.qcow2');
        assert.equal(ours['full-backing-filename'], `${dir}/vm/../base.qcow2`);
        assert.equal(ours['backing-filename-format'], 'qcow2');
        assert.equal((await img('info', p(name))).out, qemuOk('info', p(name)));
      }
      const ours = JSON.parse((await img('info', '--output=json', p('vm/disk.qcow2'))).out) as Record<string, unknown>;
      const twin = JSON.parse(qemuOk('info', '--output=json', p('vm/theirs.qcow2'))) as Record<string, unknown>;
      for (const k of [
        'virtual-size',
        'cluster-size',
        'backing-filename',
        'backing-filename-format',
        'format-specific',
      ])
        assert.deepEqual(ours[k], twin[k], k);
      // --backing-chain walks down to the base, like qemu-img's.
      const chain = JSON.parse(
        (await img('info', '--output=json', '--backing-chain', p('vm/disk.qcow2'))).out,
      ) as Record<string, unknown>[];
      const qchain = JSON.parse(qemuOk('info', '--output=json', '--backing-chain', p('vm/disk.qcow2'))) as Record<
        string,
        unknown
      >[];
      assert.deepEqual(chain.map(pick), qchain.map(pick));
    });

    it('info on images with snapshots and version 2 matches', async () => {
      qemuOk('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', p('v2.qcow2'), '16M');
      qemuOk('convert', '-f', 'raw', '-O', 'qcow2', p('base.raw'), p('snap.qcow2'));
      qemuOk('snapshot', '-c', 'first', p('snap.qcow2'));
      for (const name of ['v2.qcow2', 'snap.qcow2']) {
        assert.deepEqual(
          JSON.parse((await img('info', '--output=json', p(name))).out),
          JSON.parse(qemuOk('info', '--output=json', p(name))),
        );
        assert.equal((await img('info', p(name))).out, qemuOk('info', p(name)));
      }
    });

    it('check: same verdict, messages, output and exit code as qemu-img for clean, leaking and corrupt images', async () => {
      writeFileSync(p('data.raw'), Buffer.concat([bytes(1 << 20, 2), Buffer.alloc(1 << 20), bytes(1 << 20, 3)]));
      qemuOk('convert', '-f', 'raw', '-O', 'qcow2', p('data.raw'), p('clean.qcow2'));
      const f = readFileSync(p('clean.qcow2'));
      const block = Number(f.readBigUInt64BE(Number(f.readBigUInt64BE(48))));
      // Leak: extend the file and give two clusters past the end a refcount of 1.
      const leak = Buffer.concat([f, Buffer.alloc(3 * 65536)]);
      const end = Math.ceil(f.length / 65536);
      leak.writeUInt16BE(1, block + 2 * end);
      leak.writeUInt16BE(1, block + 2 * (end + 1));
      writeFileSync(p('leak.qcow2'), leak);
      // Corruption: a data cluster's refcount set to 0.
      const cor = Buffer.from(f);
      cor.writeUInt16BE(0, block + 2 * 6);
      writeFileSync(p('cor.qcow2'), cor);
      for (const [name, code] of [
        ['clean.qcow2', 0],
        ['leak.qcow2', 3],
        ['cor.qcow2', 2],
      ] as const) {
        const ours = await img('check', p(name));
        const theirs = qemu('check', p(name));
        assert.equal(theirs.code, code, `qemu-img on ${name}`);
        assert.equal(ours.code, code, `${name}: ${ours.err}`);
        assert.equal(ours.out, theirs.out, name);
        assert.deepEqual(
          ours.err.split('\n').filter((l) => /^(ERROR|Leaked)/.test(l)),
          theirs.err.split('\n').filter((l) => /^(ERROR|Leaked)/.test(l)),
          name,
        );
        const oj = await img('check', '--output=json', p(name));
        assert.deepEqual(JSON.parse(oj.out), JSON.parse(qemu('check', '--output=json', p(name)).out), name);
      }
      assert.equal((await img('check', p('data.raw'))).code, 63);
    });

    it('convert raw -> qcow2 is sparse and equal; qcow2 -> raw is equal and sparse', async () => {
      const src = Buffer.concat([
        bytes(5 * 65536 + 100, 4),
        Buffer.alloc(40 * 65536),
        bytes(65536, 5),
        Buffer.alloc(65536 - 100),
      ]);
      writeFileSync(p('conv.raw'), src);
      assert.equal((await img('convert', '-f', 'raw', '-O', 'qcow2', p('conv.raw'), p('conv.qcow2'))).code, 0);
      assert.equal(qemu('compare', '-f', 'raw', '-F', 'qcow2', p('conv.raw'), p('conv.qcow2')).code, 0);
      const check = JSON.parse(qemuOk('check', '--output=json', p('conv.qcow2'))) as Record<string, number>;
      assert.equal(check['allocated-clusters'], 8, 'only the non-zero clusters are allocated');
      assert.equal((await img('convert', '-O', 'raw', p('conv.qcow2'), p('back.raw'))).code, 0);
      assert.ok(readFileSync(p('back.raw')).equals(src));
      assert.ok(statSync(p('back.raw')).blocks * 512 < src.length / 2, 'raw output is sparse');
      assert.equal(
        (await img('convert', '-O', 'qcow2', '-o', 'cluster_size=4096', p('conv.raw'), p('conv4k.qcow2'))).code,
        0,
      );
      assert.equal(qemu('compare', p('conv.raw'), p('conv4k.qcow2')).code, 0);
      assert.equal(qemu('check', p('conv4k.qcow2')).code, 0);
    });

    it('convert -B writes only what differs from the backing file', async () => {
      const base = bytes(2 << 20, 6);
      const changed = Buffer.from(base);
      changed.fill(0, 65536, 3 * 65536); // becomes zero clusters
      bytes(1000, 7).copy(changed, 10 * 65536 + 5);
      writeFileSync(p('cb.raw'), base);
      writeFileSync(p('cc.raw'), changed);
      const r = await img(
        'convert',
        '-f',
        'raw',
        '-O',
        'qcow2',
        '-B',
        'cb.raw',
        '-F',
        'raw',
        p('cc.raw'),
        p('cc.qcow2'),
      );
      assert.equal(r.code, 0, r.err);
      assert.equal(qemu('compare', '-f', 'raw', p('cc.raw'), p('cc.qcow2')).code, 0);
      assert.equal(qemu('check', p('cc.qcow2')).code, 0);
      const map = JSON.parse(qemuOk('map', '--output=json', p('cc.qcow2'))) as {
        start: number;
        length: number;
        depth: number;
        zero: boolean;
      }[];
      const top = map.filter((e) => e.depth === 0);
      assert.deepEqual(
        top.map((e) => [e.start, e.length, e.zero]),
        [
          [65536, 2 * 65536, true],
          [10 * 65536, 65536, false],
        ],
      );
    });

    it('compare: same answers and offsets as qemu-img', async () => {
      const a = Buffer.alloc(1 << 20);
      writeFileSync(p('c1.raw'), a);
      const b = Buffer.from(a);
      b[1000] = 1;
      writeFileSync(p('c2.raw'), b);
      const c = Buffer.concat([a, Buffer.alloc(1 << 20)]);
      c[1_500_000] = 1;
      writeFileSync(p('c3.raw'), c);
      writeFileSync(p('c4.raw'), Buffer.concat([a, Buffer.alloc(4096)]));
      qemuOk('convert', '-O', 'qcow2', p('c2.raw'), p('c2.qcow2'));
      for (const args of [
        ['c1.raw', 'c1.raw'],
        ['c1.raw', 'c2.raw'],
        ['c1.raw', 'c2.qcow2'],
        ['c2.raw', 'c2.qcow2'],
        ['c1.raw', 'c3.raw'],
        ['c1.raw', 'c4.raw'],
        ['-s', 'c1.raw', 'c4.raw'],
      ]) {
        const full = args.map((x) => (x.startsWith('-') ? x : p(x)));
        const ours = await img('compare', ...full);
        const theirs = qemu('compare', ...full);
        assert.equal(ours.code, theirs.code, args.join(' '));
        assert.equal(ours.out, theirs.out, args.join(' '));
      }
    });
  });
});
