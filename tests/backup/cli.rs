//! `sysmon backup` writes archives that third-party readers (Info-ZIP
//! `unzip`, Python's `zipfile`) restore exactly, and `sysmon verify` finds
//! every damage they find: fidelity (modes, times outside 1970-2038,
//! non-UTF-8 names, symlinks, a sparse file over 4 GiB as zip64), exit
//! codes, CRC and header corruption, retention, names that never
//! overwrite, a full destination, and the system calls and access times a
//! backup costs (issue #3).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{archives, sh, temporaries};
use crate::common::{TempDir, have_tool, mkfifo, run, run_within, running_as_root, sysmon};

/// What a tree looks like, by relative path: kind, mode, mtime, content.
fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let m = fs::symlink_metadata(&path).unwrap();
            let t = m.file_type();
            let desc = if t.is_symlink() {
                format!("link -> {:?}", fs::read_link(&path).unwrap())
            } else if t.is_dir() {
                stack.push(path.clone());
                format!("dir {:o} mtime {}", m.mode() & 0o7777, m.mtime())
            } else if t.is_file() {
                let content = fs::read(&path)
                    .map(|c| format!("{} bytes, fnv {:x}", c.len(), fnv(&c)))
                    .unwrap_or_else(|e| e.to_string());
                format!("file {:o} mtime {} {content}", m.mode() & 0o7777, m.mtime())
            } else {
                "special".to_string()
            };
            out.insert(rel, desc);
        }
    }
    out
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// A tree with everything the issue lists. Returns the unreadable file and the FIFO.
fn make_tree(src: &Path) -> (PathBuf, PathBuf) {
    fs::create_dir_all(src.join("a/b/c")).unwrap();
    fs::create_dir_all(src.join("empty")).unwrap();
    fs::create_dir_all(src.join("private")).unwrap();
    fs::write(src.join("a/b/c/deep.txt"), "deep\n").unwrap();
    // Over 64 KiB: goes through the streaming (multi-slice) path.
    let text: String = (0..20_000)
        .map(|i| format!("line {i} of some compressible text\n"))
        .collect();
    fs::write(src.join("a/text.txt"), &text).unwrap();
    let mut x: u64 = 42;
    let random: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    fs::write(src.join("a/random.bin"), &random).unwrap();
    fs::write(src.join("zero"), "").unwrap();
    fs::write(src.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(src.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(src.join("private/key"), "k").unwrap();
    fs::set_permissions(src.join("private/key"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(src.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
    // Not UTF-8 (Latin-1 é). Info-ZIP unzip drops byte 0xff from names
    // whatever the archive says, so the test uses a byte it keeps.
    fs::write(
        src.join(OsStr::from_bytes(b"caf\xe9.txt")),
        "latin-1 name\n",
    )
    .unwrap();
    fs::write(src.join("é-utf8.txt"), "utf-8 name\n").unwrap();
    std::os::unix::fs::symlink("a/text.txt", src.join("link_to_file")).unwrap();
    std::os::unix::fs::symlink("a", src.join("link_to_dir")).unwrap();
    std::os::unix::fs::symlink("loop2", src.join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", src.join("loop2")).unwrap();
    let fifo = src.join("pipe");
    sh(&format!("mkfifo '{}'", fifo.display()));
    let secret = src.join("secret");
    fs::write(&secret, "not for you").unwrap();
    // Distinct, whole-second mtimes (zip keeps seconds), set last.
    sh(&format!(
        "touch -h -d @1600000000 '{s}/a/text.txt' '{s}/a/b/c/deep.txt' '{s}/zero' && touch -d @1500000000 '{s}/a/b/c' '{s}/empty'",
        s = src.display()
    ));
    (secret, fifo)
}

/// Checks every entry of ARCHIVE against the source tree with Python's
/// zipfile: content (CRC checked by zipfile), mode, UT mtime, symlink
/// targets, and the exact set of names.
const PY_CHECK: &str = r#"
import os, stat, struct, sys, zipfile
archive, src, top = sys.argv[1], os.fsencode(sys.argv[2]), sys.argv[3].encode()
skip = set(os.fsencode(a) for a in sys.argv[4:])
z = zipfile.ZipFile(archive)
seen = set()
errors = []
for info in z.infolist():
    raw = info.filename.encode('utf-8' if info.flag_bits & 0x800 else 'cp437')
    assert raw.startswith(top + b'/'), raw
    rel = raw[len(top) + 1:].rstrip(b'/')
    path = os.path.join(src, rel) if rel else src
    seen.add(path)
    st = os.lstat(path)
    mode = info.external_attr >> 16
    if mode != st.st_mode:
        errors.append(f"{raw!r}: mode {mode:o} != {st.st_mode:o}")
    ut = None
    extra = info.extra
    while len(extra) >= 4:
        hid, size = struct.unpack('<HH', extra[:4])
        if hid == 0x5455 and extra[4] & 1:
            ut = struct.unpack('<I', extra[5:9])[0]
        extra = extra[4 + size:]
    if ut != int(st.st_mtime):
        errors.append(f"{raw!r}: UT mtime {ut} != {int(st.st_mtime)}")
    data = z.read(info)
    if stat.S_ISLNK(st.st_mode):
        if data != os.readlink(path):
            errors.append(f"{raw!r}: link {data!r}")
    elif stat.S_ISREG(st.st_mode):
        with open(path, 'rb') as f:
            if data != f.read():
                errors.append(f"{raw!r}: content differs")
expected = set([src])
for d, dirs, files in os.walk(src):
    for n in dirs + files:
        p = os.path.join(d, n)
        if p not in skip:
            expected.add(p)
for p in expected ^ seen:
    errors.append(f"{p!r}: {'missing' if p in expected else 'unexpected'}")
print("\n".join(errors) or f"python: {len(seen)} entries match")
sys.exit(1 if errors else 0)
"#;

#[test]
fn round_trip_through_unzip_and_python() {
    if !have_tool("unzip", "round trip through Info-ZIP")
        || !have_tool("python3", "round trip through Python zipfile")
    {
        return;
    }
    let td = TempDir::new("backup-roundtrip");
    let src = td.join("home");
    let (secret, fifo) = make_tree(&src);
    let out_dir = td.join("out");
    fs::create_dir_all(&out_dir).unwrap();
    let conf = td.join("rt.conf");
    fs::write(
        &conf,
        format!(
            "backup_dir = {o}/backups\nstate_dir = {o}/state\nbackup_source = {}\n",
            src.display(),
            o = out_dir.display()
        ),
    )
    .unwrap();

    let mut cmd;
    if running_as_root() {
        // Root reads any file whatever its mode, so the "file without read
        // permission" case runs the backup as nobody (setpriv, util-linux):
        // the tree is handed to nobody, `secret` stays root's with mode 0600.
        if !have_tool(
            "setpriv",
            "dropping privileges for the unreadable-file case",
        ) {
            return;
        }
        sh(&format!(
            "chown -R 65534:65534 '{}' '{}' && chown 0:0 '{}' && chmod 600 '{}' && chmod 755 '{}'",
            src.display(),
            out_dir.display(),
            secret.display(),
            secret.display(),
            td.path().display()
        ));
        cmd = sysmon(&[]);
        let program = cmd.get_program().to_owned();
        cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(program)
            .args(["backup", "--config"])
            .arg(&conf);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LC_ALL", "C");
    } else {
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
        cmd = sysmon(&["backup", "--config", conf.to_str().unwrap()]);
    }
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "written with skipped files: exit 3"
    );
    assert!(
        stdout.contains(&format!("{}: permission denied", secret.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{}: FIFO not archived", fifo.display())),
        "{stdout}"
    );
    assert!(stdout.contains("skipped:  2"), "{stdout}");
    // Issue 18: an unreadable file makes the backup incomplete, said apart
    // from the FIFO (which is never archived).
    assert!(
        stdout.contains("INCOMPLETE: 1 of them could not be read (permission denied)"),
        "{stdout}"
    );

    let backups = out_dir.join("backups");
    let found = archives(&backups);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(temporaries(&backups).is_empty());
    let archive = &found[0];
    assert_eq!(fs::metadata(archive).unwrap().mode() & 0o777, 0o600);
    assert_eq!(fs::metadata(&backups).unwrap().mode() & 0o777, 0o700);

    let t = run({
        let mut c = Command::new("unzip");
        c.arg("-tq").arg(archive);
        c
    });
    assert!(t.status.success());

    // Info-ZIP: extract and compare the trees (as root again, so modes and
    // owners do not get in the way).
    let x = td.join("x");
    let u = run({
        let mut c = Command::new("unzip");
        c.arg("-q")
            .arg(archive)
            .arg("-d")
            .arg(&x)
            .env("LC_ALL", "C.UTF-8");
        c
    });
    assert!(u.status.success());
    let mut want = snapshot(&src);
    want.remove(&b"pipe"[..]);
    want.remove(&b"secret"[..]);
    let got = snapshot(&x.join("home"));
    assert_eq!(got, want, "unzip's extraction differs from the source");

    // Python's zipfile, reading names, modes, UT mtimes and data directly.
    let py = td.join("check.py");
    fs::write(&py, PY_CHECK).unwrap();
    let p = run({
        let mut c = Command::new("python3");
        c.arg(&py)
            .arg(archive)
            .arg(&src)
            .arg("home")
            .arg(&secret)
            .arg(&fifo);
        c
    });
    assert!(p.status.success(), "python zipfile check failed");

    let v = run(sysmon(&["verify", archive.to_str().unwrap()]));
    assert!(v.status.success());
}

/// A small tree and a config for it; returns (config, backup dir).
fn small_setup(td: &TempDir, extra: &str) -> (PathBuf, PathBuf) {
    let src = td.join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(
        src.join("d/unique.txt"),
        "UNIQUE-CONTENT-0123456789-abcdefghij\n",
    )
    .unwrap();
    fs::write(src.join("other.txt"), "other\n").unwrap();
    let conf = td.join("small.conf");
    fs::write(
        &conf,
        format!(
            "backup_dir = {d}/backups\nstate_dir = {d}/state\nbackup_source = {}\n{extra}\n",
            src.display(),
            d = td.path().display()
        ),
    )
    .unwrap();
    (conf, td.join("backups"))
}

#[test]
fn verify_detects_a_flipped_byte_and_exit_codes() {
    let td = TempDir::new("backup-verify");
    let (conf, backups) = small_setup(&td, "backup_level = 0");
    let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0), "everything archived: exit 0");
    let archive = archives(&backups).pop().unwrap();
    let good = run(sysmon(&["verify", archive.to_str().unwrap()]));
    assert!(good.status.success());
    assert!(String::from_utf8_lossy(&good.stdout).contains("all CRCs match"));

    let mut bytes = fs::read(&archive).unwrap();
    let at = bytes
        .windows(14)
        .position(|w| w == b"UNIQUE-CONTENT")
        .expect("stored data is in the archive");
    bytes[at + 3] ^= 0x20;
    fs::write(&archive, &bytes).unwrap();
    let bad = run(sysmon(&["verify", archive.to_str().unwrap()]));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("src/d/unique.txt"));
    if have_tool("unzip", "cross-check of the corruption") {
        let u = run({
            let mut c = Command::new("unzip");
            c.arg("-tq").arg(&archive);
            c
        });
        assert_eq!(u.status.code(), Some(2), "unzip agrees: a CRC error");
    }

    // A missing source fails (exit 1) and leaves nothing behind.
    let missing = td.join("missing.conf");
    fs::write(
        &missing,
        format!(
            "backup_dir = {d}/b2\nstate_dir = {d}/state\nbackup_source = {d}/nope\n",
            d = td.path().display()
        ),
    )
    .unwrap();
    let out = run(sysmon(&["backup", "--config", missing.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    assert!(archives(&td.join("b2")).is_empty() && temporaries(&td.join("b2")).is_empty());
}

#[test]
fn retention_keeps_the_newest_and_ignores_other_files() {
    let td = TempDir::new("backup-retention");
    let (conf, backups) = small_setup(&td, "backup_keep = 3");
    fs::create_dir_all(&backups).unwrap();
    let old = [
        "backup_20200101_000000.zip",
        "backup_20200102_000000.zip",
        "backup_20200102_000000_2.zip",
        "backup_20200102_000000_10.zip",
    ];
    let unrelated = [
        "notes.txt",
        "backup_2020.zip",
        "backup_20200101_000000.zip.bak",
        "Backup_20200101_000000.zip",
        "backup_20200101_000000_x.zip",
    ];
    for n in old.iter().chain(&unrelated) {
        fs::write(backups.join(n), n).unwrap();
    }
    let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0));
    let names: Vec<String> = archives(&backups)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        3 + 2,
        "3 kept + 2 unrelated that look alike: {names:?}"
    );
    // Oldest first by the time in the name, `_10` after `_2`.
    assert!(backups.join("backup_20200102_000000_2.zip").exists());
    assert!(backups.join("backup_20200102_000000_10.zip").exists());
    assert!(!backups.join("backup_20200101_000000.zip").exists());
    assert!(!backups.join("backup_20200102_000000.zip").exists());
    for n in unrelated {
        assert_eq!(
            fs::read(backups.join(n)).unwrap(),
            n.as_bytes(),
            "{n} untouched"
        );
    }
}

/// A summary that cannot be written (stdout on a full disk, here
/// `/dev/full`) is exit 1 with `stdout: <error>`, as for the other
/// commands (`cli::emit`); the archive, written before, is kept and the
/// error says so. Before, the failed writes were ignored: exit 0.
#[test]
fn a_summary_that_cannot_be_written_is_exit_1_and_the_archive_is_kept() {
    if !Path::new("/dev/full").exists() {
        eprintln!("SKIPPED: no /dev/full");
        return;
    }
    let td = TempDir::new("backup-stdout-full");
    let (conf, backups) = small_setup(&td, "");
    let out = sysmon(&["backup", "--config", conf.to_str().unwrap()])
        .stdout(fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sysmon: error: stdout: No space left on device"),
        "{stderr}"
    );
    let made = archives(&backups);
    assert_eq!(made.len(), 1, "the archive is kept: {stderr}");
    assert!(
        stderr.contains(&format!("{} is written and kept", made[0].display())),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn backups_in_the_same_second_never_overwrite() {
    let td = TempDir::new("backup-same-second");
    let (conf, backups) = small_setup(&td, "backup_keep = 100");
    fs::create_dir_all(&backups).unwrap();
    // Occupy the names of the next few seconds with other content.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut taken = Vec::new();
    for t in now..now + 6 {
        let stamp = Command::new("date")
            .arg("-d")
            .arg(format!("@{t}"))
            .arg("+%Y%m%d_%H%M%S")
            .output()
            .unwrap();
        let name = format!(
            "backup_{}.zip",
            String::from_utf8_lossy(&stamp.stdout).trim()
        );
        fs::write(backups.join(&name), "someone else's").unwrap();
        taken.push(name);
    }
    let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0));
    for n in &taken {
        assert_eq!(
            fs::read(backups.join(n)).unwrap(),
            b"someone else's",
            "{n} was overwritten"
        );
    }
    let made: Vec<_> = archives(&backups)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with("_2.zip"))
        .collect();
    assert_eq!(made.len(), 1, "the new archive took the `_2` name");
    assert!(
        run(sysmon(&["verify", made[0].to_str().unwrap()]))
            .status
            .success()
    );
}

#[test]
fn a_full_destination_fails_cleanly() {
    if !have_tool(
        "prlimit",
        "limiting the file size (RLIMIT_FSIZE) to simulate a full disk",
    ) {
        return;
    }
    let td = TempDir::new("backup-full");
    let (conf, backups) = small_setup(&td, "backup_level = 0");
    let first = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(first.status.code(), Some(0));
    let older = archives(&backups);
    let older_bytes: Vec<Vec<u8>> = older.iter().map(|p| fs::read(p).unwrap()).collect();
    // 2 MB of data against a 256 KiB file size limit.
    fs::write(td.join("src/big.bin"), vec![7u8; 2 << 20]).unwrap();
    let out = backup_under_prlimit("--fsize=262144", &conf);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failure, not a crash by SIGXFSZ"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("File too large"));
    assert_eq!(
        archives(&backups),
        older,
        "no new archive under a final name"
    );
    assert!(temporaries(&backups).is_empty(), "the temporary is removed");
    for (p, b) in older.iter().zip(&older_bytes) {
        assert_eq!(&fs::read(p).unwrap(), b, "older archive untouched");
    }
}

/// Out of descriptors (`RLIMIT_NOFILE`, a descriptor leak elsewhere, a
/// box-wide `ENFILE`) is the machine's fault, not a file's: the build
/// before skipped what it could not open, called the run a success (exit
/// 3) and let retention (`backup_keep = 1`) delete the complete archive
/// for one missing a 60-level subtree. Now the run fails (exit 1) and the
/// older archive stays, byte for byte.
#[test]
fn running_out_of_descriptors_fails_and_keeps_the_older_archive() {
    if !have_tool("prlimit", "limiting open files (RLIMIT_NOFILE)") {
        return;
    }
    let td = TempDir::new("backup-emfile");
    let (conf, backups) = small_setup(&td, "backup_keep = 1");
    // The walk holds one descriptor per level: 60 levels need more than 20.
    let mut deep = td.join("src/d");
    for level in 0..60 {
        deep.push(format!("l{level}"));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("deep.txt"), "at the bottom\n").unwrap();
    let first = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(first.status.code(), Some(0));
    let older = archives(&backups);
    assert_eq!(older.len(), 1);
    let older_bytes = fs::read(&older[0]).unwrap();
    let out = backup_under_prlimit("--nofile=20:20", &conf);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed run, not one with files skipped: {stderr}"
    );
    assert!(
        stderr.contains("os error 24") && stderr.contains("older archives are kept"),
        "{stderr}"
    );
    assert_eq!(
        archives(&backups),
        older,
        "no new archive, the old one kept"
    );
    assert_eq!(fs::read(&older[0]).unwrap(), older_bytes);
    assert!(temporaries(&backups).is_empty(), "the temporary is removed");
}

#[test]
fn sparse_file_over_4_gib_round_trips_with_zip64() {
    if !have_tool("unzip", "zip64 check with Info-ZIP")
        || !have_tool("python3", "zip64 check with Python")
    {
        return;
    }
    let td = TempDir::new("backup-zip64");
    let src = td.join("src");
    fs::create_dir_all(&src).unwrap();
    let size: u64 = (4 << 30) + (1 << 20) + 7;
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::File::create(src.join("sparse.img")).unwrap();
        f.write_all(b"HEAD").unwrap();
        f.seek(SeekFrom::Start(size - 4)).unwrap();
        f.write_all(b"TAIL").unwrap();
    }
    fs::write(src.join("after.txt"), "an entry after the big one\n").unwrap();
    let conf = td.join("z.conf");
    fs::write(&conf, format!("backup_dir = {d}/backups\nstate_dir = {d}/state\nbackup_source = {}\nbackup_level = 1\n", src.display(), d = td.path().display())).unwrap();
    let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0));
    let archive = archives(&td.join("backups")).pop().unwrap();
    assert!(
        fs::metadata(&archive).unwrap().len() < 64 << 20,
        "zeros compress"
    );
    // Python reads the zip64 sizes and the data (CRC checked at the end).
    let py = format!(
        "import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1])\ni=z.getinfo('src/sparse.img')\nassert i.file_size=={size}, i.file_size\nf=z.open(i)\nassert f.read(4)==b'HEAD'\nn=4\nwhile True:\n  b=f.read(1<<24)\n  if not b: break\n  n+=len(b); last=b\nassert n=={size} and last.endswith(b'TAIL')\nassert z.read('src/after.txt')==b'an entry after the big one\\n'\nprint('python ok')\n"
    );
    let p = run({
        let mut c = Command::new("python3");
        c.arg("-c").arg(py).arg(&archive);
        c
    });
    assert!(p.status.success());
    // Info-ZIP streams it back byte for byte.
    let u = run({
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!(
            "unzip -p '{}' src/sparse.img | cmp - '{}'",
            archive.display(),
            src.join("sparse.img").display()
        ));
        c
    });
    assert!(u.status.success(), "unzip -p | cmp");
    assert!(
        run(sysmon(&["verify", archive.to_str().unwrap()]))
            .status
            .success()
    );
}

/// `count` small files (0 to 63 bytes) in directories of 1,000.
fn small_files(src: &Path, count: usize) {
    for i in 0..count {
        let dir = src.join(format!("d{:03}", i / 1000));
        if i % 1000 == 0 {
            fs::create_dir_all(&dir).unwrap();
        }
        fs::write(dir.join(format!("f{i:06}.txt")), "x".repeat(i % 64)).unwrap();
    }
}

/// The system calls of one `sysmon backup` of SRC, from `strace -f`. Not
/// counted: the `fcntl(fd, F_GETFD)` with which std's debug builds check
/// that a descriptor is still open before closing it (release builds, which
/// users run, do not make it).
fn backup_syscalls(td: &TempDir, src: &Path) -> usize {
    let tag = src.file_name().unwrap().to_str().unwrap();
    let conf = td.join(&format!("{tag}.conf"));
    fs::write(
        &conf,
        format!(
            "backup_dir = {d}/backups-{tag}\nstate_dir = {d}/state\nbackup_source = {}\n",
            src.display(),
            d = td.path().display()
        ),
    )
    .unwrap();
    let trace = td.join(&format!("{tag}.strace"));
    let out = run({
        let mut c = Command::new("strace");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LC_ALL", "C");
        c.arg("-f").arg("-o").arg(&trace);
        c.arg(crate::common::BIN)
            .args(["backup", "--config", conf.to_str().unwrap()]);
        c
    });
    assert_eq!(out.status.code(), Some(0));
    // "PID name(args) = result", the PID padded to 5 columns; signals and
    // the exit are "--- " and "+++ ".
    fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, call)| call.trim_start()))
        .filter(|call| !call.starts_with("---") && !call.starts_with("+++"))
        .filter(|call| !(call.starts_with("fcntl(") && call.contains("F_GETFD")))
        .count()
}

/// The per-file cost on a tree of small files, where system calls are most
/// of the time: one lstat in the pre-scan, then openat, fstat, one read,
/// fstat (changed while read?) and close. Measured as the difference
/// between 2,000 and 4,000 files, so start-up and the fixed costs drop out.
/// (Before the walk went descriptor-relative it was 9 with musl.)
#[test]
fn small_files_cost_six_system_calls_each() {
    if !have_tool("strace", "system calls per archived file") {
        return;
    }
    let td = TempDir::new("backup-syscalls");
    let (few, many) = (td.join("few"), td.join("many"));
    small_files(&few, 2000);
    small_files(&many, 4000);
    let per_file =
        (backup_syscalls(&td, &many) as f64 - backup_syscalls(&td, &few) as f64) / 2000.0;
    eprintln!("system calls per file: {per_file:.2}");
    assert!(
        (5.9..6.2).contains(&per_file),
        "{per_file:.2} system calls per small file, expected 6"
    );
}

/// Reading files for a backup leaves their access times alone where the
/// kernel allows `O_NOATIME` (our own files, or root): an atime older than
/// the mtime is what `relatime` would otherwise rewrite.
#[test]
fn the_backup_leaves_access_times_alone() {
    let td = TempDir::new("backup-atime");
    let (conf, _) = small_setup(&td, "");
    let file = td.join("src/other.txt");
    sh(&format!("touch -a -d @1000000000 '{}'", file.display()));
    let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(fs::metadata(&file).unwrap().atime(), 1_000_000_000);
}

/// A small real archive with a stored and a deflated entry, for the
/// corruption tests. Returns its bytes and path.
fn archive_to_damage(td: &TempDir) -> (Vec<u8>, PathBuf) {
    let (conf, backups) = small_setup(td, "");
    let text: String = (0..200)
        .map(|i| format!("compressible line {i}\n"))
        .collect();
    fs::write(td.join("src/d/text.txt"), text).unwrap();
    let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0));
    let archive = archives(&backups).pop().unwrap();
    (fs::read(&archive).unwrap(), archive)
}

fn verify_code(archive: &Path) -> Option<i32> {
    let verify = sysmon(&["verify", archive.to_str().unwrap()])
        .output()
        .unwrap();
    verify.status.code()
}

/// Exit status of `unzip -tq` (stdin closed: an entry that claims to be
/// encrypted must not wait for a password) and of `sysmon verify`.
fn unzip_and_verify(archive: &Path) -> (Option<i32>, Option<i32>) {
    let unzip = Command::new("unzip")
        .arg("-tq")
        .arg(archive)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (unzip.status.code(), verify_code(archive))
}

/// Issue 11: `verify` compares every local header with its central
/// record, so damage there fails it as it fails `unzip -t`. One mutation
/// per local-header field of a deflated entry.
#[test]
fn verify_rejects_each_damaged_local_header_field() {
    let td = TempDir::new("backup-verify-local");
    let (good, archive) = archive_to_damage(&td);
    let name = b"src/d/text.txt";
    let at = good
        .windows(30 + name.len())
        .position(|w| w.starts_with(b"PK\x03\x04") && &w[30..] == name)
        .expect("the local header of src/d/text.txt");
    assert_eq!(good[at + 8], 8, "deflated");
    // (field, offset in the local header, byte xor)
    let table: [(&str, usize, u8); 9] = [
        ("signature", 0, 0x01),
        ("flags (encrypted)", 6, 0x01),
        ("flags (data descriptor)", 6, 0x08),
        ("method", 8, 0x08),
        ("crc", 14, 0x01),
        ("compressed size", 18, 0x01),
        ("uncompressed size", 22, 0x01),
        ("name length", 26, 0x01),
        ("name", 30 + 6, 0x20),
    ];
    for (field, offset, xor) in table {
        let mut bytes = good.clone();
        bytes[at + offset] ^= xor;
        fs::write(&archive, &bytes).unwrap();
        let verify_code = verify_code(&archive);
        eprintln!("{field}: verify {verify_code:?}");
        assert_eq!(verify_code, Some(1), "verify passed a damaged {field}");
    }
    fs::write(&archive, &good).unwrap();
    assert_eq!(verify_code(&archive), Some(0));
}

/// Issue 11: 400 seeded single-byte mutations of a real archive; whenever
/// `unzip -tq` rejects one, `verify` must too (it may be stricter).
#[test]
fn verify_fails_whenever_unzip_test_fails() {
    if !have_tool("unzip", "the mutation fuzz against unzip -t") {
        return;
    }
    let td = TempDir::new("backup-verify-fuzz");
    let (good, archive) = archive_to_damage(&td);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut unzip_failed, mut verify_failed, mut missed) = (0, 0, Vec::new());
    for _ in 0..400 {
        let at = (next() % good.len() as u64) as usize;
        let xor = (next() % 255 + 1) as u8;
        let mut bytes = good.clone();
        bytes[at] ^= xor;
        fs::write(&archive, &bytes).unwrap();
        let (unzip_code, verify_code) = unzip_and_verify(&archive);
        unzip_failed += usize::from(unzip_code != Some(0));
        verify_failed += usize::from(verify_code != Some(0));
        if unzip_code != Some(0) && verify_code == Some(0) {
            missed.push(format!("byte {at} ^ {xor:#04x}: unzip -tq {unzip_code:?}"));
        }
    }
    eprintln!(
        "400 mutations of a {} byte archive: unzip -t rejected {unzip_failed}, verify {verify_failed}",
        good.len()
    );
    assert!(
        missed.is_empty(),
        "verify passed what unzip -t rejects:\n{}",
        missed.join("\n")
    );
}

/// Reads every entry's time fields with Python's zipfile: one line per
/// entry, `name dos=Y-M-D-h-m-s ut=SIGNED ntfs=UNIX` (`-` when absent).
const PY_TIMES: &str = r#"
import struct, sys, zipfile
for info in zipfile.ZipFile(sys.argv[1]).infolist():
    ut = ntfs = "-"
    extra = info.extra
    while len(extra) >= 4:
        tag, size = struct.unpack("<HH", extra[:4])
        body = extra[4:4 + size]
        if tag == 0x5455:
            ut = struct.unpack("<i", body[1:5])[0]
        elif tag == 0x000A:
            ntfs = struct.unpack("<Q", body[8:16])[0] // 10**7 - 11644473600
        extra = extra[4 + size:]
    print(info.filename, "dos=" + "-".join(map(str, info.date_time)), f"ut={ut}", f"ntfs={ntfs}")
"#;

/// Issue 11: modification times before 1970 came back as 1970, after
/// 2038-01-19 as 2038. The archive now holds each to the second (UT field,
/// NTFS field beyond it), Info-ZIP `unzip` restores 1970..2106-02-07
/// exactly, and what each reader makes of the rest is what the README says.
/// A time outside what the format holds (before 1601) is reported.
#[test]
fn times_outside_1970_to_2038_are_kept() {
    if !have_tool("unzip", "restoring times with Info-ZIP")
        || !have_tool("python3", "reading the time fields with Python zipfile")
    {
        return;
    }
    let td = TempDir::new("backup-times");
    let src = td.join("src");
    fs::create_dir_all(&src).unwrap();
    // (name, mtime, what unzip restores, Python's date_time) in UTC.
    let cases: [(&str, i64, i64, &str); 7] = [
        ("y1901", -2_147_483_648, 315_532_800, "1980-1-1-0-0-0"),
        ("y1960", -315_619_200, 315_532_800, "1980-1-1-0-0-0"),
        ("y1970", 0, 0, "1980-1-1-0-0-0"),
        ("y2038", 2_147_483_648, 2_147_483_648, "2038-1-19-3-14-8"),
        ("y2040", 2_208_988_800, 2_208_988_800, "2040-1-1-0-0-0"),
        ("y2100", 4_102_444_800, 4_102_444_800, "2100-1-1-0-0-0"),
        // Past the UT field: the NTFS field keeps it; unzip takes the DOS
        // maximum, 2107-12-31 23:59:58, a day late (2100 is no leap year).
        ("y2200", 7_258_118_400, 4_354_905_598, "2107-12-31-23-59-58"),
    ];
    for (name, mtime, _, _) in cases {
        let path = src.join(name);
        fs::write(&path, name).unwrap();
        sh(&format!("touch -m -d @{mtime} '{}'", path.display()));
        assert_eq!(
            fs::metadata(&path).unwrap().mtime(),
            mtime,
            "{name}: the filesystem keeps it"
        );
    }
    // Before 1601 no zip field holds it: counted and reported. Only a
    // filesystem with 64-bit times (tmpfs) can hold one.
    let shm = PathBuf::from(format!("/dev/shm/sysmon-times-{}", std::process::id()));
    let old = shm.join("y1336");
    let _ = fs::remove_dir_all(&shm);
    let unstorable = fs::create_dir_all(&shm).is_ok()
        && fs::write(&old, "old").is_ok()
        && Command::new("touch")
            .args(["-m", "-d", "@-20000000000"])
            .arg(&old)
            .status()
            .is_ok_and(|s| s.success())
        && fs::metadata(&old).is_ok_and(|m| m.mtime() == -20_000_000_000);
    if !unstorable {
        eprintln!("SKIPPED: the time before 1601 (no tmpfs with 64-bit times at /dev/shm)");
    }
    let conf = td.join("times.conf");
    let mut text = format!(
        "backup_dir = {d}/backups\nstate_dir = {d}/state\nbackup_source = {}\n",
        src.display(),
        d = td.path().display()
    );
    if unstorable {
        text.push_str(&format!("backup_source = {}\n", shm.display()));
    }
    fs::write(&conf, text).unwrap();
    let out = run({
        let mut c = sysmon(&["backup", "--config", conf.to_str().unwrap()]);
        c.env("TZ", "UTC");
        c
    });
    let _ = fs::remove_dir_all(&shm);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if unstorable {
        assert_eq!(out.status.code(), Some(3), "{stdout}");
        assert!(
            stdout.contains(&format!(
                "{}: modification time -20000000000 s from 1970 is outside what a zip holds",
                old.display()
            )),
            "{stdout}"
        );
        assert!(stdout.contains("skipped:  1"), "{stdout}");
    } else {
        assert_eq!(out.status.code(), Some(0), "{stdout}");
    }
    let archive = archives(&td.join("backups")).pop().unwrap();

    let py = td.join("times.py");
    fs::write(&py, PY_TIMES).unwrap();
    let fields = run({
        let mut c = Command::new("python3");
        c.arg(&py).arg(&archive);
        c
    });
    assert!(fields.status.success());
    let fields = String::from_utf8_lossy(&fields.stdout).into_owned();
    let x = td.join("x");
    let u = run({
        let mut c = Command::new("unzip");
        c.arg("-q").arg(&archive).arg("-d").arg(&x).env("TZ", "UTC");
        c
    });
    assert!(u.status.success());
    for (name, mtime, unzip_gives, python_gives) in cases {
        let line = fields
            .lines()
            .find(|l| l.starts_with(&format!("src/{name} ")))
            .unwrap_or_else(|| panic!("{name} not in {fields}"));
        // The archive holds the exact time: NTFS when present, else UT.
        let ut = if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&mtime) {
            (mtime as u32 as i32).to_string()
        } else {
            "-".into()
        };
        let ntfs = if (0..=i64::from(i32::MAX)).contains(&mtime) {
            "-".to_string()
        } else {
            mtime.to_string()
        };
        assert_eq!(
            line,
            format!("src/{name} dos={python_gives} ut={ut} ntfs={ntfs}"),
            "{name}"
        );
        let restored = fs::metadata(x.join("src").join(name)).unwrap().mtime();
        assert_eq!(restored, unzip_gives, "{name}: what unzip restores");
    }
    if unstorable {
        let line = fields.lines().find(|l| l.contains("y1336")).unwrap();
        assert!(
            line.ends_with("ut=- ntfs=-11644473600"),
            "clamped to 1601: {line}"
        );
    }
    assert_eq!(
        run(sysmon(&["verify", archive.to_str().unwrap()]))
            .status
            .code(),
        Some(0)
    );
}

/// Issue 11: an archive dated in the future (the clock was wrong once)
/// was kept forever and pushed out real ones. With `backup_keep = 2` and
/// one dated 2099, two real backups must both be kept, and the 2099 one
/// go (it counts as the oldest), with a warning naming it.
#[test]
fn retention_never_loses_real_backups_to_future_dated_ones() {
    let td = TempDir::new("backup-retention-future");
    let (conf, backups) = small_setup(&td, "backup_keep = 2");
    fs::create_dir_all(&backups).unwrap();
    let future = backups.join("backup_20991231_235959.zip");
    fs::write(&future, "made while the clock was wrong").unwrap();
    let first = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(first.status.code(), Some(0));
    let made_first = archives(&backups);
    assert_eq!(
        made_first.len(),
        2,
        "keep 2: the new one and 2099 {made_first:?}"
    );
    let second = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(second.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!(
            "{} is dated after the archive just made",
            future.display()
        )),
        "{stderr}"
    );
    let now = archives(&backups);
    assert!(
        !future.exists(),
        "the future-dated archive goes first: {now:?}"
    );
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        now.iter().any(|a| made_first.contains(a) && a != &future),
        "the first real backup is kept: {now:?}"
    );
}

/// Files up to a few hundred bytes of every kind (runs like the benchmark's
/// `x` files, text, random bytes, every byte value), around the 256 bytes
/// below which sysmon's own fixed-code encoder (`tinydeflate`) takes them
/// instead of zlib: at levels 1, 6 and 9 the archive passes `unzip -t` and
/// `sysmon verify`, the `zip` crate reads every file back byte for byte,
/// and no entry is larger than zlib's raw deflate of it at the same level
/// (or the file itself, when that is smaller), but for a byte of different
/// match choices.
#[test]
fn small_files_of_every_kind_round_trip_no_larger_than_zlib() {
    use std::io::Read;
    let td = TempDir::new("backup-tiny");
    let src = td.join("src");
    fs::create_dir_all(&src).unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let text = b"# a config file\nname = value\nlisten = 127.0.0.1:8080\n";
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for n in (0..=300).step_by(7).chain([255, 256, 257]) {
        files.insert(format!("run{n:03}"), b"x".repeat(n));
        files.insert(
            format!("text{n:03}"),
            text.iter().copied().cycle().take(n).collect(),
        );
        files.insert(
            format!("random{n:03}"),
            (0..n).map(|_| next() as u8).collect(),
        );
        files.insert(format!("bytes{n:03}"), (0..n).map(|i| i as u8).collect());
        let few = b"ab\n";
        files.insert(
            format!("few{n:03}"),
            (0..n).map(|_| few[(next() % 3) as usize]).collect(),
        );
    }
    for (name, data) in &files {
        fs::write(src.join(name), data).unwrap();
    }
    for level in [1, 6, 9] {
        let conf = td.join(&format!("l{level}.conf"));
        let backups = td.join(&format!("backups{level}"));
        fs::write(
            &conf,
            format!(
                "backup_dir = {}\nstate_dir = {d}/state\nbackup_source = {}\nbackup_level = {level}\n",
                backups.display(),
                src.display(),
                d = td.path().display()
            ),
        )
        .unwrap();
        let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(0), "level {level}");
        let archive = archives(&backups).pop().unwrap();
        let verify = run(sysmon(&["verify", archive.to_str().unwrap()]));
        assert!(verify.status.success(), "level {level}: sysmon verify");
        if have_tool("unzip", "Info-ZIP's test of the archive") {
            let u = run({
                let mut c = Command::new("unzip");
                c.arg("-tq").arg(&archive);
                c
            });
            assert_eq!(u.status.code(), Some(0), "level {level}: unzip -t");
        }
        let mut zip = zip::ZipArchive::new(fs::File::open(&archive).unwrap()).unwrap();
        let mut seen = 0;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let path = entry.name().unwrap().to_string();
            let name = path.rsplit('/').next().unwrap_or_default().to_string();
            let Some(data) = files.get(&name) else {
                continue;
            };
            let mut back = Vec::new();
            entry.read_to_end(&mut back).unwrap();
            assert!(&back == data, "level {level}: {name} came back different");
            let mut zlib = flate2::Compress::new(flate2::Compression::new(level), false);
            let mut deflated = Vec::with_capacity(data.len() + 64);
            zlib.compress_vec(data, &mut deflated, flate2::FlushCompress::Finish)
                .unwrap();
            let zlib_size = deflated.len().min(data.len()) as u64;
            assert!(
                entry.compressed_size() <= zlib_size + 1,
                "level {level}: {name}: {} bytes archived, zlib {zlib_size}",
                entry.compressed_size()
            );
            seen += 1;
        }
        assert_eq!(seen, files.len(), "level {level}: every file archived");
    }
}

/// Fuzzing found `sysmon verify` aborting (index out of bounds) on a file
/// shorter than an end record and waiting for good on a FIFO. Each is an
/// error naming the path and what is wrong, exit 1, at once.
#[test]
fn verify_refuses_tiny_files_fifos_and_devices_at_once() {
    let td = TempDir::new("backup-verify-hostile");
    let short = td.join("short.zip");
    fs::write(&short, b"PK\x05\x06abc").unwrap();
    let fifo = td.join("pipe.zip");
    mkfifo(&fifo);
    let cases = [
        (
            short.clone(),
            format!(
                "{}: not a zip archive: 7 bytes, shorter than an end record (22 bytes)",
                short.display()
            ),
        ),
        (
            fifo.clone(),
            format!("{}: is a FIFO, not a regular file", fifo.display()),
        ),
        (
            PathBuf::from("/dev/null"),
            "/dev/null: is a character device, not a regular file".to_string(),
        ),
    ];
    for (path, expected) in cases {
        let out = run_within(
            sysmon(&["verify", path.to_str().unwrap()]),
            std::time::Duration::from_secs(10),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&expected), "{expected} in {stderr}");
    }
}

/// Fuzzing found one entry name over 65,535 bytes (the zip's 16-bit name
/// length) failing the whole backup, the error naming the temporary. 255
/// levels of 255-byte directory names are 65,284 bytes of name: a short
/// file name at the bottom fits, a 255-byte one does not. That one is
/// skipped with its reason and the backup goes on (exit 3, not 1).
#[test]
fn an_entry_name_longer_than_a_zip_holds_is_skipped_not_fatal() {
    if !have_tool("python3", "making a tree deeper than PATH_MAX") {
        return;
    }
    let td = TempDir::in_memory("backup-long-name");
    let src = td.join("src");
    fs::create_dir_all(&src).unwrap();
    let long = "n".repeat(255);
    // Relative steps (the whole path is far past PATH_MAX, and dash's
    // `cd` refuses a working directory that long).
    let mut make = Command::new("python3");
    make.arg("-c")
        .arg(format!(
            "import os\nos.chdir('{}')\nfor _ in range(255):\n    os.mkdir('{long}'); os.chdir('{long}')\n\
             open('ok', 'w').write('fits\\n')\nopen('{long}', 'w').write('too long\\n')\n",
            src.display()
        ));
    assert!(run(make).status.success());
    let conf = td.join("long.conf");
    fs::write(
        &conf,
        format!(
            "backup_dir = {d}/backups\nstate_dir = {d}/state\nbackup_source = {}\n",
            src.display(),
            d = td.path().display()
        ),
    )
    .unwrap();
    let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "skipped, not failed: {stdout}");
    assert!(stdout.contains("skipped:  1"), "{stdout}");
    assert!(
        stdout.contains("name longer than 65,535 bytes in the archive: not archived"),
        "{stdout}"
    );
    let archive = archives(&td.join("backups")).pop().expect("an archive");
    let mut zip = zip::ZipArchive::new(fs::File::open(&archive).unwrap()).unwrap();
    let deepest = format!("src/{}ok", format!("{long}/").repeat(255));
    assert_eq!(deepest.len(), 65_286);
    let mut fits = String::new();
    std::io::Read::read_to_string(&mut zip.by_name(&deepest).unwrap(), &mut fits).unwrap();
    assert_eq!(fits, "fits\n");
    assert_eq!(zip.len(), 1 + 255 + 1, "the top, 255 directories, `ok`");
}

/// A file name holding a newline cannot forge a line: a FIFO (skipped and
/// listed) named `f\nsysmon: backup done: FORGED` shows in the summary on
/// stdout and in the log on stderr as one line with `\n` escaped. The
/// build before printed the forged line on both.
#[test]
fn a_skipped_file_name_cannot_forge_a_line() {
    let td = TempDir::new("backup-forged-name");
    let (conf, _) = small_setup(&td, "");
    let forged = td.join("src/f\nsysmon: backup done: FORGED");
    let made = std::process::Command::new("mkfifo")
        .arg(&forged)
        .status()
        .unwrap();
    assert!(made.success());
    let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    for text in [&stdout, &stderr] {
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("sysmon: backup done: FORGED")),
            "a forged line:\n{text}"
        );
        assert!(text.contains("f\\nsysmon: backup done: FORGED"), "{text}");
    }
}

/// A record whose last success lies in the future (written while the
/// clock was ahead, or edited by hand) is read with that time taken as
/// now, and says so naming the file: the next success replaces it. Before,
/// the future time won every comparison, was carried by every later
/// record, and `alert_backup_age` never fired again (hostile-input sweep 2,
/// 2026-12-04).
#[test]
fn a_last_success_recorded_in_the_future_does_not_outlast_later_runs() {
    use miniserde::json::{Number, Value};
    let td = TempDir::new("backup-future-record");
    let (conf, _backups) = small_setup(&td, "");
    let state = td.join("state");
    fs::create_dir_all(&state).unwrap();
    // 2100-01-01: far past any run of this test.
    const FUTURE: u64 = 4_102_444_800;
    let record = state.join("backup_last.json");
    fs::write(
        &record,
        format!(
            r#"{{"file":null,"time":{FUTURE},"bytes":0,"files":0,"skipped":0,"skipped_permission":0,"duration_s":0.1,"error":"gone","skipped_list":[],"last_success_at":{FUTURE},"last_success":{{"file":"/b/old.zip","bytes":999,"files":1,"skipped":0,"skipped_permission":0,"duration_s":1.0}}}}"#
        ),
    )
    .unwrap();
    let out = run(sysmon(&["backup", "--config", conf.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0), "everything archived: exit 0");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: ", record.display())) && stderr.contains("future"),
        "no line naming the record and its future time:\n{stderr}"
    );
    let written = fs::read_to_string(&record).unwrap();
    let v: Value = miniserde::json::from_str(&written).unwrap();
    let number = |key: &str| match crate::common::field(&v, &[key]) {
        Some(Value::Number(Number::U64(n))) => Some(*n),
        _ => None,
    };
    let time = number("time").expect("the run's time");
    assert!(time < FUTURE, "{written}");
    assert_eq!(
        number("last_success_at"),
        Some(time),
        "the run just made is the newest success: {written}"
    );
    assert!(!written.contains("old.zip"), "{written}");
}

/// A record that could not be read for any reason but its absence (no
/// descriptors left, EMFILE: injected here by a debug build's knob, as
/// `prlimit --nofile` would fail the backup's own opens first) was taken
/// as missing: the failed run's record written over it then dropped
/// `last_success_at` and `last_success`, and `alert_backup_age` counted
/// from nothing. The failure is now said naming the file, and the record
/// is left as it was.
#[test]
fn a_record_that_cannot_be_read_is_not_replaced_by_one_without_its_last_success() {
    let td = TempDir::new("backup-record-unreadable");
    let state = td.join("state");
    fs::create_dir_all(&state).unwrap();
    let record = state.join("backup_last.json");
    let old = r#"{"file":"/b/old.zip","time":1000,"bytes":999,"files":1,"skipped":0,"skipped_permission":0,"duration_s":1.0,"error":null,"skipped_list":[],"last_success_at":1000,"last_success":{"file":"/b/old.zip","bytes":999,"files":1,"skipped":0,"skipped_permission":0,"duration_s":1.0}}"#;
    fs::write(&record, old).unwrap();
    let conf = td.join("failing.conf");
    fs::write(
        &conf,
        format!(
            "backup_dir = {d}/b\nstate_dir = {d}/state\nbackup_source = {d}/nope\n",
            d = td.path().display()
        ),
    )
    .unwrap();
    let mut cmd = sysmon(&["backup", "--config", conf.to_str().unwrap()]);
    cmd.env("SYSMON_TEST_BACKUP_RECORD_READ_ERRORS", "1");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1), "the source is missing");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        fs::read_to_string(&record).unwrap(),
        old,
        "the last success was lost:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}: ", record.display())) && stderr.contains("not recorded"),
        "no line naming the record:\n{stderr}"
    );
}

/// `sysmon backup --config CONF` under `prlimit LIMIT` (e.g.
/// `--fsize=262144`), with only `PATH` in its environment.
fn backup_under_prlimit(limit: &str, conf: &std::path::Path) -> std::process::Output {
    let mut cmd = Command::new("prlimit");
    cmd.arg(limit)
        .arg(crate::common::BIN)
        .args(["backup", "--config"])
        .arg(conf);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    run(cmd)
}
