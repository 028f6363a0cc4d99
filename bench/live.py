#!/usr/bin/env python3
"""bench/live.py - the live tree's benchmarks, each against the alternative in the same run.

  save:  one save through the mount (writer's wait; the committer's time to a durable commit,
         fsync on, from the daemon's log) against `git add -A && git commit` on the same tree
  io:    1 GiB sequential write and read through the mount against the backing filesystem
  tree:  grep -r and find over a 5,000-file tree, warm and cold, against the backing filesystem
  repo:  the repository's size after SAVES saves (default 20,000), the slowest save, the
         committer's time per commit, and the pack merges (time, peak RSS of their process)
and the daemon's peak RSS (VmHWM). Run as root (it mounts, and drops caches for cold runs).
Usage: bench/live.py [save] [io] [tree] [repo]      (default: all)
Environment: STATEFS (binary), SAVES, IO_MIB (default 1024), BENCH_DIR (default /var/tmp).
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATEFS = os.environ.get("STATEFS", os.path.join(TOP, "statefs"))
SAVES = int(os.environ.get("SAVES", "20000"))
IO_MIB = int(os.environ.get("IO_MIB", "1024"))


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


class Mount:
    """A statefs mount of a nginx-like tree and a plain tree, in the foreground, stopped by pid."""

    def __init__(self, base, opts=""):
        self.base = base
        self.src = os.path.join(base, "etc/nginx")
        self.plain = os.path.join(base, "data")
        self.mnt = os.path.join(base, "mnt")
        self.state = os.path.join(base, "state")
        for d in (self.src, self.plain, self.mnt):
            os.makedirs(d, exist_ok=True)
        self.conf = os.path.join(base, "statefs.conf")
        with open(self.conf, "w") as f:
            f.write(f"[state]\n\tdir = {self.state}\n[mount \"nginx\"]\n\tkind = tree\n"
                    f"\tsource = {self.src}\n[mount \"data\"]\n\tkind = plain\n"
                    f"\tsource = big:{self.plain}\n")
        self.opts = opts

    def start(self):
        self.log = os.path.join(self.base, "daemon.log")
        sock = os.path.join(self.base, "notify.sock")
        args = [sys.executable, os.path.join(TOP, "tests/lib/readywait.py"), sock, self.log, "--",
                STATEFS, "-f"] + (["-o", self.opts] if self.opts else []) + [self.conf, self.mnt]
        self.pid = int(subprocess.run(args, check=True, capture_output=True, text=True).stdout)

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        subprocess.run(["fusermount3", "-u", self.mnt])
        for _ in range(200):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(self.pid, 9)

    def head(self):
        r = subprocess.run(["git", "--git-dir", os.path.join(self.state, "config.git"),
                            "rev-parse", "-q", "--verify", "HEAD"], capture_output=True, text=True)
        return r.stdout.strip()


def wait_commit(m, old, timeout=10):
    ref = os.path.join(m.state, "config.git/refs/heads/main")
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(ref) as f:
                cur = f.read().strip()
            if cur != old:
                return cur
        except FileNotFoundError:
            pass
        time.sleep(0.0005)
    raise SystemExit("bench: no commit within %ds" % timeout)


def bench_save(base, n=300):
    m = Mount(base, "quiet_ms=20")
    for i in range(50):
        with open(os.path.join(m.src, f"site{i}.conf"), "w") as f:
            f.write("server { listen 80; }\n" * 20)
    m.start()
    try:
        ref = os.path.join(m.state, "config.git/refs/heads/main")
        head = open(ref).read().strip()
        writer = []
        for i in range(n):
            t0 = time.perf_counter()
            with open(os.path.join(m.mnt, "nginx", f"site{i % 50}.conf"), "a") as f:
                f.write(f"# save {i}\n")
            writer.append((time.perf_counter() - t0) * 1e3)
            head = wait_commit(m, head)
        rss = m.rss_kib()
    finally:
        m.stop()
    commit = [float(l.split(" in ")[1].split()[0]) for l in open(m.log) if "committed" in l][1:]
    # the same saves with the git CLI on a copy of the tree
    work = os.path.join(base, "cli")
    shutil.copytree(m.src, work)
    sh(f"cd {work} && git init -q && git add -A && git -c user.name=b -c user.email=b@b "
       f"-c core.fsync=all commit -qm init")
    cli = []
    for i in range(n):
        with open(os.path.join(work, f"site{i % 50}.conf"), "a") as f:
            f.write(f"# save {i}\n")
        t0 = time.perf_counter()
        sh(f"cd {work} && git add -A && git -c user.name=b -c user.email=b@b -c core.fsync=all "
           f"commit -qm save")
        cli.append((time.perf_counter() - t0) * 1e3)
    p50, p99 = statistics.median(commit), pct(commit, 99)
    c50, c99 = statistics.median(cli), pct(cli, 99)
    print(f"save: writer waits p50 {statistics.median(writer):.3f} ms p99 {pct(writer, 99):.3f} ms "
          f"(it never waits for git)")
    print(f"save: durable commit (fsync on) p50 {p50:.2f} ms p99 {p99:.2f} ms; "
          f"git add -A && git commit p50 {c50:.2f} ms p99 {c99:.2f} ms; "
          f"ratio p50 {c50 / p50:.1f}x faster than the CLI  (goal p50 < 3 ms)")
    print(f"save: daemon peak RSS {rss / 1024:.1f} MiB")


def timed(cmd):
    t0 = time.perf_counter()
    sh(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def bench_io(base):
    m = Mount(base)
    m.start()
    try:
        out = {}
        for name, d in (("native", m.plain), ("mount", os.path.join(m.mnt, "data/big"))):
            f = os.path.join(d, "big.bin")
            w = timed(f"dd if=/dev/zero of={f} bs=1M count={IO_MIB} conv=fsync")
            drop_caches()
            r = timed(f"dd if={f} of=/dev/null bs=1M")
            rw = min(timed(f"dd if={f} of=/dev/null bs=1M") for _ in range(3))
            os.unlink(f)
            out[name] = (IO_MIB / w, IO_MIB / r, IO_MIB / rw)
        rss = m.rss_kib()
    finally:
        m.stop()
    n, mt = out["native"], out["mount"]
    for i, what in enumerate(("write (fsync)", "read cold", "read warm")):
        print(f"io: {IO_MIB} MiB {what}: mount {mt[i]:.0f} MiB/s, native {n[i]:.0f} MiB/s, "
              f"ratio {mt[i] / n[i]:.2f}x native  (goal >= 0.8x)")
    print(f"io: daemon peak RSS {rss / 1024:.1f} MiB")


def bench_tree(base):
    m = Mount(base)
    for i in range(5000):
        d = os.path.join(m.src, f"d{i // 100:02d}", f"e{i // 10 % 10}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i}.conf"), "w") as f:
            f.write(("server { server_name s%d.example; listen 80; }\n" % i) * 40)
    m.start()
    try:
        res = {}
        for name, d in (("native", m.src), ("mount", os.path.join(m.mnt, "nginx"))):
            for cmd in ("grep -r zzzz-not-there", "find"):
                # grep exits 1 when it read everything and found nothing, 2 on any error
                # (an open that fails is not a fast read): anything else stops the bench.
                run = f"{cmd} {d} >/dev/null; test $? -eq {1 if cmd.startswith('grep') else 0}"
                drop_caches()
                cold = timed(run)
                warm = min(timed(run) for _ in range(3))
                res[(name, cmd)] = (cold, warm)
        rss = m.rss_kib()
    finally:
        m.stop()
    for cmd in ("grep -r zzzz-not-there", "find"):
        n, mt = res[("native", cmd)], res[("mount", cmd)]
        print(f"tree: {cmd.split()[0]} {cmd.split()[1] if cmd.startswith('grep') else ''} "
              f"over 5,000 files: cold {mt[0] * 1e3:.0f} ms vs native {n[0] * 1e3:.0f} ms "
              f"({mt[0] / n[0]:.2f}x); warm {mt[1] * 1e3:.1f} ms vs native {n[1] * 1e3:.1f} ms "
              f"({mt[1] / n[1]:.2f}x)  (goal <= 1.5x)")
    print(f"tree: daemon peak RSS {rss / 1024:.1f} MiB")


def bench_repo(base):
    m = Mount(base, "quiet_ms=1")
    for i in range(20):
        with open(os.path.join(m.src, f"site{i}.conf"), "w") as f:
            f.write("server {\n" + "    location /x%d { return 200; }\n" * 40 + "}\n")
    m.start()
    try:
        ref = os.path.join(m.state, "config.git/refs/heads/main")
        head = open(ref).read().strip()
        t0 = time.time()
        worst = 0.0
        for i in range(SAVES):
            p = os.path.join(m.mnt, "nginx", f"site{i % 20}.conf")
            t1 = time.time()
            with open(p, "a") as f:
                f.write(f"# save {i}\n")
            head = wait_commit(m, head, timeout=120)
            worst = max(worst, time.time() - t1)
        took = time.time() - t0
        time.sleep(2)  # let a background pack finish
        rss = m.rss_kib()
    finally:
        m.stop()
    du = subprocess.run(["du", "-sk", os.path.join(m.state, "config.git")], capture_output=True,
                        text=True).stdout.split()[0]
    fsck = subprocess.run(["git", "--git-dir", os.path.join(m.state, "config.git"), "fsck"],
                          capture_output=True).returncode
    packs = len([f for f in os.listdir(os.path.join(m.state, "config.git/objects/pack"))
                 if f.endswith(".pack")])
    # the committer's own time per commit, and the pack merges (each in a child process)
    commit = [float(l.split(" in ")[1].split()[0]) for l in open(m.log) if "committed" in l]
    merges = [l for l in open(m.log) if "packs: merged" in l and "peak RSS" in l]
    mtime = [float(l.split(" KiB) in ")[1].split()[0]) for l in merges if " KiB) in " in l]
    mrss = [float(l.split("peak RSS ")[1].split()[0]) for l in merges if "peak RSS " in l]
    print(f"repo: {SAVES} saves in {took:.0f} s: repository {int(du) / 1024:.1f} MiB on disk "
          f"in {packs} packs (goal < 15 MiB), git fsck {'clean' if fsck == 0 else 'FAILED'}, "
          f"slowest save to commit {worst:.2f} s, "
          f"daemon peak RSS {rss / 1024:.1f} MiB")
    if commit:
        print(f"repo: durable commit p50 {statistics.median(commit):.2f} ms "
              f"p99 {pct(commit, 99):.2f} ms max {max(commit):.2f} ms over {len(commit)} commits")
    if merges:
        print(f"repo: {len(merges)} pack merges, slowest {max(mtime or [0]):.2f} s, "
              f"merge process peak RSS {max(mrss or [0]):.1f} MiB")


def main():
    which = sys.argv[1:] or ["save", "io", "tree", "repo"]
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (it mounts and drops caches)")
    for w in which:
        base = tempfile.mkdtemp(prefix=f"statefs-bench-{w}.",
                                dir=os.environ.get("BENCH_DIR", "/var/tmp"))
        try:
            {"save": bench_save, "io": bench_io, "tree": bench_tree, "repo": bench_repo}[w](base)
        finally:
            subprocess.run(["fusermount3", "-uz", os.path.join(base, "mnt")],
                           stderr=subprocess.DEVNULL)
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
