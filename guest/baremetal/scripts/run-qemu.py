#!/usr/bin/env python3
"""Run every bare-metal guest on QEMU (the reference) and check its verdict.

usage: run-qemu.py OUT_DIR [--linux IMAGE] [--bench]

Self-tests must exit 0 through the syscon; the HTIF-only program never ends
on QEMU, so its tohost word is read over QMP instead; the firmware runs its
S-mode payload; --linux boots a kernel under the firmware until BOOT-OK
(default: the newest ~/.cache/hypernova/guest/*/Image, skipped when none);
--bench also runs the full-size benchmark.
"""
import glob
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

QEMU = os.environ.get("QEMU", "qemu-system-riscv32")
NM = os.environ.get("NM", "riscv64-unknown-elf-nm")
CPU = ("rv32,f=false,d=false,h=false,sstc=false,"
       "zba=false,zbb=false,zbc=false,zbs=false")
BASE = [QEMU, "-M", "virt", "-cpu", CPU, "-m", "64M", "-nographic"]


def run(args, timeout):
    t0 = time.monotonic()
    try:
        p = subprocess.run(BASE + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, text=True, errors="replace")
        return p.returncode, p.stdout + p.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return None, out, time.monotonic() - t0


def symbol(elf, name):
    out = subprocess.run([NM, elf], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise KeyError(name)


def qmp_read_word(elf, addr, wait):
    """Start QEMU with a QMP socket, let the guest run, read a RAM word."""
    with tempfile.TemporaryDirectory() as d:
        sock_path = os.path.join(d, "qmp.sock")
        proc = subprocess.Popen(BASE + ["-bios", "none", "-kernel", elf, "-qmp",
                                        f"unix:{sock_path},server=on,wait=off"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            for _ in range(100):
                if os.path.exists(sock_path):
                    break
                time.sleep(0.05)
            time.sleep(wait)
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock_path)
            f = s.makefile("rw")
            f.readline()  # greeting

            def cmd(obj):
                f.write(json.dumps(obj) + "\n")
                f.flush()
                while True:
                    reply = json.loads(f.readline())
                    if "return" in reply or "error" in reply:
                        return reply

            cmd({"execute": "qmp_capabilities"})
            r = cmd({"execute": "human-monitor-command",
                     "arguments": {"command-line": f"xp /1wx {addr:#x}"}})
            cmd({"execute": "quit"})
            text = r.get("return", "")
            return int(text.split(":")[1].split()[0], 16)
        finally:
            proc.kill()
            proc.wait()


def default_linux():
    images = glob.glob(os.path.expanduser("~/.cache/hypernova/guest/*/Image"))
    return max(images, key=os.path.getmtime) if images else None


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    out = args[0]
    linux = args[args.index("--linux") + 1] if "--linux" in args else default_linux()
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    failed = []

    def verdict(name, ok, secs, detail=""):
        print(f"{'PASS' if ok else 'FAIL'}  {name:<30} {secs:6.2f}s  {detail}")
        if not ok:
            failed.append(name)

    for elf in manifest["selftests"]:
        rc, text, secs = run(["-bios", "none", "-kernel", os.path.join(out, elf)], 60)
        name = elf[:-4]
        notes = text.count("note:")
        ok = rc == 0 and f"{name}: PASS" in text
        verdict(elf, ok, secs, f"({notes} QEMU notes)" if notes else "")
        if not ok:
            print(text)

    for elf in manifest["htif_only"]:
        path = os.path.join(out, elf)
        t0 = time.monotonic()
        word = qmp_read_word(path, symbol(path, "tohost"), 1.0)
        verdict(elf, word == 1, time.monotonic() - t0, f"tohost = {word:#x} (read over QMP)")

    fw = os.path.join(out, manifest["firmware"])
    for elf in manifest["firmware_payloads"]:
        rc, text, secs = run(["-bios", fw, "-kernel", os.path.join(out, elf)], 60)
        ok = rc == 0 and "sbi-payload: PASS" in text
        verdict(f"fw.elf + {elf}", ok, secs)
        if not ok:
            print(text)

    benches = ["intmix-small.elf"] + (["intmix.elf"] if "--bench" in args else [])
    for elf in benches:
        rc, text, secs = run(["-bios", "none", "-icount", "shift=0",
                              "-kernel", os.path.join(out, elf)], 600)
        instret = next((l.split()[1] for l in text.splitlines() if l.startswith("INSTRET")), "?")
        verdict(f"{elf} (icount)", rc == 0 and "CHECK OK" in text, secs, f"INSTRET {instret}")

    if linux:
        t0 = time.monotonic()
        proc = subprocess.Popen(BASE + ["-bios", fw, "-kernel", linux, "-append",
                                        "console=ttyS0 earlycon=sbi"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        seen, buf = False, b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                if b"BOOT-OK" in buf:
                    seen = True
                    break
        buf = buf.decode(errors="replace")
        proc.kill()
        proc.wait()
        verdict("fw.elf + Linux", seen, time.monotonic() - t0, linux)
        if not seen:
            print(buf[-4000:])
    else:
        print("SKIP  fw.elf + Linux                 (no ~/.cache/hypernova/guest/*/Image yet)")

    print(f"{len(failed)} failed" if failed else "all passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
