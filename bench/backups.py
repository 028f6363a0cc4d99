#!/usr/bin/env python3
"""bench/backups.py - reading backups out of backups/ (issue 4), each figure against the
alternatives in the same run.

It builds, in a temporary directory: a private MariaDB (started here, stopped by its pid) with a
database of about DUMP_MB of SQL, an uploads tree of NFILES files (UPLOADS_MB in all, half of the
bytes random like images, the rest text), and takes one `statefs snapshot` of both. The same
data goes into a borg repository (`borg create`, no encryption, lz4: borg's default): the dump
as the .sql.zst file backups/ serves, and the uploads tree. Then, with the page cache dropped
before every run, the median of REPS runs of:

  dump:    cp of backups/<snapshot>/db/big.sql.zst to /dev/null, against the same file in a
           `borg mount` of the archive and on the plain filesystem;
  uploads: cp -a of backups/<snapshot>/uploads/site (NFILES files) to a scratch directory (on
           /dev/shm when it has room, so that the destination's writes are not what is timed),
           against the same tree in the borg mount and on the plain filesystem;
  and the daemon's peak RSS (VmHWM) after the dump runs, and after everything.
With 1,000 snapshots in the store (the manifest hard-linked under 999 more names): the time
to mount (start to ready), of the first `ls backups/` and `ls -l backups/`, and of a `find`
over one snapshot, cold.

Usage: bench/backups.py     (root: it mounts, drops caches, runs the private server as root)
Environment: STATEFS (binary), DUMP_MB (default 1024), NFILES (default 10000), UPLOADS_MB
(default 500), REPS (default 3), BENCH_DIR (default /var/tmp; everything goes in a temporary
directory there, removed at the end). Needs mariadb-server, zstd, borgbackup (with
python3-pyfuse3 or python3-llfuse for `borg mount`; without borg those columns are skipped).
Progress on stderr; the figures on stdout.
"""
import os, random, shutil, statistics, subprocess, sys, tempfile, time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATEFS = os.environ.get("STATEFS", os.path.join(TOP, "statefs"))
DUMP_MB = int(os.environ.get("DUMP_MB", "1024"))
NFILES = int(os.environ.get("NFILES", "10000"))
UPLOADS_MB = int(os.environ.get("UPLOADS_MB", "500"))
REPS = int(os.environ.get("REPS", "3"))
T0 = time.time()


def log(msg):
    t = time.time() - T0
    print(f"[{int(t // 60):3d}:{t % 60:04.1f}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    """Run CMD in bash with pipefail; raise with its stderr if it fails."""
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], stderr=subprocess.PIPE, text=True,
                       **kw)
    if r.returncode:
        raise SystemExit(f"bench: `{cmd}` failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def timed(cmd, before=None):
    """Median wall time of REPS cold runs of CMD (BEFORE runs untimed before each)."""
    times = []
    for _ in range(REPS):
        if before:
            sh(before)
        drop_caches()
        t = time.monotonic()
        sh(cmd)
        times.append(time.monotonic() - t)
    return statistics.median(times)


def hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class MariaDB:
    """The private server of tests/lib/mariadb.sh, started and stopped by its pid."""

    def __init__(self, d):
        self.d = d
        lib = os.path.join(TOP, "tests/lib/mariadb.sh")
        out = sh(f". '{lib}' && mariadb_start '{d}' >/dev/null && echo $MARIADB_SOCK $MARIADB_CNF",
                 stdout=subprocess.PIPE).stdout.split()
        self.sock, self.cnf = out[0], out[1]

    def sql(self, q):
        sh(f"mariadb --defaults-file='{self.cnf}' -e \"{q}\"")

    def stop(self):
        lib = os.path.join(TOP, "tests/lib/mariadb.sh")
        subprocess.run(["bash", "-c", f". '{lib}' && mariadb_stop '{self.d}'"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Mount:
    def __init__(self, base, conf):
        self.base, self.conf = base, conf
        self.mnt = os.path.join(base, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        self.pid = None

    def start(self):
        log_ = os.path.join(self.base, "daemon.log")
        sock = os.path.join(self.base, "notify.sock")
        t = time.monotonic()
        self.pid = int(subprocess.run(
            [sys.executable, os.path.join(TOP, "tests/lib/readywait.py"), sock, log_, "--",
             STATEFS, "-f", self.conf, self.mnt], check=True, capture_output=True,
            text=True).stdout)
        return time.monotonic() - t

    def stop(self):
        if not self.pid:
            return
        subprocess.run(["fusermount3", "-u", self.mnt])
        for _ in range(200):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, 9)
        self.pid = None


def make_uploads(root):
    rng = random.Random(4)
    words = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ".split()
    mean = UPLOADS_MB * 1048576 // NFILES
    text = b" ".join(rng.choice(words) for _ in range(200000))
    for i in range(NFILES):
        d = os.path.join(root, f"{2015 + i % 10}", f"{1 + i % 12:02d}")
        os.makedirs(d, exist_ok=True)
        n = max(100, int(rng.expovariate(1 / mean)))
        with open(os.path.join(d, f"img-{i:05d}.jpg"), "wb") as f:
            if i % 2:
                f.write(os.urandom(n))
            else:
                off = rng.randrange(len(text) - 1)
                f.write((text[off:] + text)[:n] if n < len(text) else os.urandom(n))


def make_database(db):
    rows = DUMP_MB * 1048576 // 340  # about 340 bytes of SQL a row
    db.sql("CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, k CHAR(32), "
           "v VARCHAR(600), n DOUBLE)")
    step = 100000
    for lo in range(1, rows + 1, step):
        hi = min(rows, lo + step - 1)
        db.sql(f"USE big; INSERT INTO t SELECT seq, MD5(seq), CONCAT_WS(' ', SHA2(seq, 256), "
               f"REPEAT(SUBSTRING(MD5(seq * 7), 1, 12), 12), 'the quick brown fox', "
               f"SHA1(seq DIV 3), seq * 31 % 9973), seq / 7 FROM seq_{lo}_to_{hi}")


def main():
    if os.geteuid():
        raise SystemExit("bench/backups.py: run as root")
    borg = shutil.which("borg")
    base = tempfile.mkdtemp(prefix="statefs-bench-backups.", dir=os.environ.get("BENCH_DIR",
                                                                                "/var/tmp"))
    db = m = None
    sinks = []
    bmnt = os.path.join(base, "bmnt")
    try:
        up = os.path.join(base, "uploads/site")
        log(f"uploads: {NFILES} files, {UPLOADS_MB} MiB")
        make_uploads(up)
        log(f"database: about {DUMP_MB} MiB of SQL")
        db = MariaDB(os.path.join(base, "m"))
        make_database(db)
        os.makedirs(os.path.join(base, "nginx"))
        with open(os.path.join(base, "nginx/nginx.conf"), "w") as f:
            f.write("worker_processes auto;\n")
        conf = os.path.join(base, "statefs.conf")
        with open(conf, "w") as f:
            f.write(f"[state]\n\tdir = {base}/state\n[mount \"nginx\"]\n\tkind = tree\n"
                    f"\tsource = {base}/nginx\n[mount \"uploads\"]\n\tkind = plain\n"
                    f"\tsource = site:{up}\n[database \"big\"]\n\tsocket = {db.sock}\n"
                    f"\toption-file = {db.cnf}\n")
        log("statefs snapshot")
        t = time.monotonic()
        sh(f"'{STATEFS}' snapshot -c '{conf}' --quiet >/dev/null")
        log(f"  {time.monotonic() - t:.1f} s")
        db.stop()
        db = None
        snaps = os.path.join(base, "state/store/snapshots")
        name = sorted(n for n in os.listdir(snaps) if not n.startswith("tmp"))[0]
        m = Mount(base, conf)
        m.start()
        bk = os.path.join(m.mnt, "backups", name)
        plain = os.path.join(base, "plain")
        os.makedirs(plain)
        sh(f"cp '{bk}/db/big.sql.zst' '{plain}/big.sql.zst'")
        with open(os.path.join(snaps, name)) as f:
            sql_bytes = next(int(line.split()[4]) for line in f
                             if line.startswith("f ") and line.rstrip("\n").endswith(" db/big.sql.zst"))
        zbytes = os.path.getsize(f"{plain}/big.sql.zst")
        shutil.copytree(up, os.path.join(plain, "site"), symlinks=True)
        if borg:
            log("borg create")
            env = dict(os.environ, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes",
                       BORG_RELOCATED_REPO_ACCESS_IS_OK="yes", BORG_BASE_DIR=base)
            os.environ.update(env)
            sh(f"borg init -e none '{base}/borg'")
            sh(f"cd '{plain}' && borg create '{base}/borg::day1' big.sql.zst site")
            os.makedirs(bmnt)
            sh(f"borg mount '{base}/borg::day1' '{bmnt}'")
        # The copies go to a tmpfs when there is room: the destination's own writes would
        # otherwise be a good part of what is measured.
        shm = "/dev/shm"
        if os.path.isdir(shm) and shutil.disk_usage(shm).free > 3 * UPLOADS_MB * 1048576:
            sink = tempfile.mkdtemp(prefix="statefs-bench-sink.", dir=shm)
            sinks.append(sink)
        else:
            sink = os.path.join(base, "sink")
        res = {}
        srcs = [("statefs", bk + "/db/big.sql.zst", bk + "/uploads/site")]
        if borg:
            srcs.append(("borg mount", bmnt + "/big.sql.zst", bmnt + "/site"))
        srcs.append(("plain fs", plain + "/big.sql.zst", plain + "/site"))
        for label, dump, tree in srcs:
            log(f"cp of the dump: {label}")
            res[label, "dump"] = timed(f"cp '{dump}' /dev/null")
        rss_dump = hwm(m.pid)
        for label, dump, tree in srcs:
            log(f"cp -a of the uploads: {label}")
            res[label, "up"] = timed(f"cp -a '{tree}' '{sink}'", before=f"rm -rf '{sink}'")
        sh(f"rm -rf '{sink}'")
        rss_all = hwm(m.pid)

        log("1,000 snapshots")
        m.stop()
        y, mo, d = (int(x) for x in name[:10].split("-"))
        t0 = time.mktime((y, mo, d, 12, 0, 0, 0, 0, -1))
        for i in range(1, 1000):
            n = time.strftime("%Y-%m-%d", time.localtime(t0 - i * 86400))
            os.link(os.path.join(snaps, name), os.path.join(snaps, n))
        drop_caches()
        t_mount = m.start()
        drop_caches()
        t = time.monotonic()
        sh(f"ls '{m.mnt}/backups' > /dev/null")
        t_ls = time.monotonic() - t
        drop_caches()
        t = time.monotonic()
        sh(f"ls -l '{m.mnt}/backups' > /dev/null")
        t_lsl = time.monotonic() - t
        drop_caches()
        t = time.monotonic()
        nfind = int(sh(f"find '{bk}' | wc -l", stdout=subprocess.PIPE).stdout)
        t_find = time.monotonic() - t
        rss_many = hwm(m.pid)

        mib = 1048576
        print(f"backups/ (statefs {STATEFS}), cold cache, median of {REPS}:")
        print(f"  cp of a dump ({sql_bytes / mib:.0f} MiB of SQL, {zbytes / mib:.0f} MiB .sql.zst):")
        for label, _, _ in srcs:
            s = res[label, "dump"]
            print(f"    {label:11s} {s:7.2f} s  {zbytes / mib / s:7.1f} MiB/s")
        up_bytes = sum(os.path.getsize(os.path.join(dp, f))
                       for dp, _, fs in os.walk(up) for f in fs)
        print(f"  cp -a of an uploads tree ({NFILES} files, {up_bytes / mib:.0f} MiB):")
        for label, _, _ in srcs:
            s = res[label, "up"]
            print(f"    {label:11s} {s:7.2f} s  {up_bytes / mib / s:7.1f} MiB/s  "
                  f"{NFILES / s:7.0f} files/s")
        def ratio(a, b):  # how many times faster a is than b, or slower
            r = res[b] / res[a]
            return f"{r:.2f}x faster" if r >= 1 else f"{1 / r:.2f}x slower"
        for other in (["borg mount"] if borg else []) + ["plain fs"]:
            print(f"  statefs against {other}: dump {ratio(('statefs', 'dump'), (other, 'dump'))}, "
                  f"uploads {ratio(('statefs', 'up'), (other, 'up'))}")
        print(f"  daemon peak RSS: {rss_dump / 1024:.1f} MiB after the dump copies (goal < 32), "
              f"{rss_all / 1024:.1f} MiB after the uploads copies")
        print(f"  with 1,000 snapshots: mount {t_mount * 1000:.0f} ms (start to ready), "
              f"ls backups/ {t_ls * 1000:.0f} ms, ls -l backups/ {t_lsl * 1000:.0f} ms, "
              f"find over one snapshot ({nfind} names) {t_find * 1000:.0f} ms; "
              f"peak RSS {rss_many / 1024:.1f} MiB")
    finally:
        if os.path.ismount(bmnt):
            subprocess.run(["borg", "umount", bmnt])
        if m:
            m.stop()
        if db:
            db.stop()
        for d in sinks:
            shutil.rmtree(d, ignore_errors=True)
        if not os.environ.get("KEEP"):
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
