//! Should a file be stored rather than deflated? Deflating data that is
//! already compressed costs most of a backup's CPU and saves nothing, so we
//! store it when the name says so (extension list), when the first bytes
//! say so (magic numbers, for files whose extension lies), or when the
//! first block looks random (byte entropy near 8 bits). Pure functions over
//! a name and the first bytes; no I/O.

/// Lower-case extensions of formats that are compressed already, sorted
/// (bytewise, for the binary search), none longer than [`EXTENSION_MAX`].
const COMPRESSED_EXTENSIONS: &[&[u8]] = &[
    b"7z",
    b"aac",
    b"apk",
    b"avi",
    b"avif",
    b"br",
    b"bz2",
    b"cab",
    b"deb",
    b"docx",
    b"egg",
    b"epub",
    b"flac",
    b"gif",
    b"gz",
    b"heic",
    b"heif",
    b"jar",
    b"jpeg",
    b"jpg",
    b"jxl",
    b"lz",
    b"lz4",
    b"lzma",
    b"lzo",
    b"m4a",
    b"m4v",
    b"mkv",
    b"mov",
    b"mp3",
    b"mp4",
    b"odp",
    b"ods",
    b"odt",
    b"oga",
    b"ogg",
    b"ogv",
    b"opus",
    b"png",
    b"pptx",
    b"rar",
    b"rpm",
    b"squashfs",
    b"tbz2",
    b"tgz",
    b"txz",
    b"tzst",
    b"war",
    b"webm",
    b"webp",
    b"whl",
    b"wma",
    b"wmv",
    b"woff",
    b"woff2",
    b"xlsx",
    b"xz",
    b"z",
    b"zip",
    b"zst",
];

/// The longest extension in [`COMPRESSED_EXTENSIONS`] ("squashfs").
const EXTENSION_MAX: usize = 8;

/// (offset, magic) pairs of compressed formats.
const MAGIC: &[(usize, &[u8])] = &[
    (0, b"\x1f\x8b"),           // gzip
    (0, b"PK\x03\x04"),         // zip, jar, docx, apk...
    (0, b"\xfd7zXZ\x00"),       // xz
    (0, b"\x28\xb5\x2f\xfd"),   // zstd
    (0, b"BZh"),                // bzip2
    (0, b"7z\xbc\xaf\x27\x1c"), // 7z
    (0, b"\x89PNG\r\n\x1a\n"),  // png
    (0, b"\xff\xd8\xff"),       // jpeg
    (0, b"GIF8"),               // gif
    (4, b"ftyp"),               // mp4, mov, heic, avif
    (0, b"\x1a\x45\xdf\xa3"),   // matroska, webm
    (0, b"OggS"),               // ogg
    (0, b"fLaC"),               // flac
    (0, b"ID3"),                // mp3 with tags
    (0, b"Rar!\x1a\x07"),       // rar
    (0, b"\x04\x22\x4d\x18"),   // lz4
    (0, b"hsqs"),               // squashfs
    (0, b"wOF2"),               // woff2
    (8, b"WEBP"),               // webp (RIFF....WEBP)
];

/// Below this many bytes the entropy estimate is too noisy to trust.
const ENTROPY_MIN_SAMPLE: usize = 4096;
/// Bits per byte above which deflate cannot win anything worth its time.
const ENTROPY_STORE_BITS: f64 = 7.9;

/// True when `name` (a file name, not a path) ends in a known compressed extension.
pub fn compressed_by_name(name: &[u8]) -> bool {
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let ext = &name[dot + 1..];
    if ext.is_empty() || ext.len() > EXTENSION_MAX {
        return false;
    }
    // Asked twice per file: one lower-casing and a binary search, not 60
    // case-insensitive compares (8 % of a small file's cost, by callgrind).
    let mut lower = [0u8; EXTENSION_MAX];
    let lower = &mut lower[..ext.len()];
    lower.copy_from_slice(ext);
    lower.make_ascii_lowercase();
    COMPRESSED_EXTENSIONS.binary_search(&&lower[..]).is_ok()
}

/// True when the first bytes of a file carry a compressed format's magic number.
pub fn compressed_by_magic(head: &[u8]) -> bool {
    MAGIC
        .iter()
        .any(|(at, magic)| head.get(*at..*at + magic.len()) == Some(magic))
}

/// Shannon entropy of the byte distribution, in bits per byte.
pub fn entropy_bits(sample: &[u8]) -> f64 {
    if sample.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in sample {
        counts[usize::from(b)] += 1;
    }
    let n = sample.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The whole decision: store this file rather than deflate it?
pub fn should_store(name: &[u8], head: &[u8]) -> bool {
    compressed_by_name(name)
        || compressed_by_magic(head)
        || (head.len() >= ENTROPY_MIN_SAMPLE && entropy_bits(head) >= ENTROPY_STORE_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for yes in [&b"a.zip"[..], b"photo.JPG", b"x.tar.gz", b"v.mp4", b"d.zst"] {
            assert!(compressed_by_name(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [&b"a.txt"[..], b"Makefile", b"zip", b".gz.txt", b"x.tar"] {
            assert!(!compressed_by_name(no), "{}", String::from_utf8_lossy(no));
        }
    }

    /// The binary search against a naive oracle (every extension compared
    /// without regard to case), on each listed extension in three cases and
    /// on near misses; and the list in the order the search needs.
    #[test]
    fn names_match_a_linear_search() {
        assert!(COMPRESSED_EXTENSIONS.windows(2).all(|w| w[0] < w[1]));
        assert!(COMPRESSED_EXTENSIONS.iter().all(|e| {
            e.len() <= EXTENSION_MAX && !e.is_empty() && e.to_ascii_lowercase() == **e
        }));
        let naive = |name: &[u8]| {
            let dot = name.iter().rposition(|&b| b == b'.');
            dot.is_some_and(|d| {
                let ext = &name[d + 1..];
                COMPRESSED_EXTENSIONS
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(ext))
            })
        };
        let mut names: Vec<Vec<u8>> = Vec::new();
        for ext in COMPRESSED_EXTENSIONS {
            for variant in [ext.to_vec(), ext.to_ascii_uppercase(), {
                let mut m = ext.to_vec();
                m[0] = m[0].to_ascii_uppercase();
                m
            }] {
                names.push([b"file.".as_slice(), &variant].concat());
                names.push([b"file.".as_slice(), &variant, b"x"].concat());
                names.push([b"file.".as_slice(), &variant[1..]].concat());
            }
        }
        names.extend([
            b"file.".to_vec(),
            b"noext".to_vec(),
            b".zip".to_vec(),
            b"a.squashfsx".to_vec(),
            b"a.\xff\xfe".to_vec(),
        ]);
        for name in &names {
            assert_eq!(
                compressed_by_name(name),
                naive(name),
                "{}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn magic_and_entropy() {
        assert!(should_store(b"data.bin", b"\x1f\x8b\x08\x00rest"));
        assert!(should_store(b"movie", b"\x00\x00\x00\x20ftypisom"));
        assert!(!should_store(b"notes.txt", b"just some text"));
        // A pseudo-random block (xorshift) is stored, a text block is not.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let random: Vec<u8> = (0..65536)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(entropy_bits(&random) > 7.99);
        assert!(should_store(b"random.bin", &random));
        let text = b"fn main() { println!(\"hello\"); }\n".repeat(2000);
        assert!(entropy_bits(&text) < 5.0);
        assert!(!should_store(b"main.rs", &text));
    }
}
