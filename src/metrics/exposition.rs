//! A validating parser of the Prometheus text exposition format 0.0.4, as
//! node_exporter's textfile collector reads `*.prom` files (its
//! `expfmt.TextParser`, then its own refusal of client-side timestamps).
//!
//! Pure: it reads a `&str` and fills caller-owned vectors with byte ranges
//! into that text; it never copies the text and, once the vectors have
//! grown to a file's size, never allocates.
//!
//! Invariant: if [`Parsed::parse`] returned `Ok(())`, every range in
//! [`Parsed::families`] and [`Parsed::samples`] is a valid index into the
//! text it was given, and every sample line, written out verbatim under its
//! family's `# HELP`/`# TYPE`, is valid 0.0.4 text without a timestamp.

use std::ops::Range;

/// A family's `# TYPE` (untyped when the file gives none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
            Kind::Untyped => "untyped",
        }
    }

    fn parse(word: &str) -> Option<Kind> {
        Some(match word {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "summary" => Kind::Summary,
            "untyped" => Kind::Untyped,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Family {
    pub name: Range<usize>,
    pub kind: Kind,
    /// The `# HELP` text as written (escapes kept, already checked).
    pub help: Option<Range<usize>>,
    /// Set by a `# TYPE` line; a second one, or one after samples, is an error.
    typed: bool,
    has_samples: bool,
    /// The family's samples are `samples[first_sample..end_sample]` once
    /// [`Parsed::parse`] has returned `Ok`; empty families have none.
    pub first_sample: usize,
    pub end_sample: usize,
}

/// One sample line: its family (an index into [`Parsed::families`]) and the
/// line from the metric name to the value, trailing blanks cut.
#[derive(Clone, Debug)]
pub struct Sample {
    pub family: usize,
    pub line: Range<usize>,
}

/// Why a file was refused: the 1-based line and what was wrong there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub line: usize,
    pub what: &'static str,
}

const EMPTY: u32 = u32::MAX;

#[derive(Default)]
pub struct Parsed {
    pub families: Vec<Family>,
    pub samples: Vec<Sample>,
    /// Open-addressing hash index of `families` by name (`EMPTY` or an
    /// index); its length is a power of two at least twice the family
    /// count, so a file of many families is read in linear time.
    index: Vec<u32>,
}

/// FNV-1a: short names, no allocation, no need for DoS resistance (the
/// files are the administrator's).
fn hash(name: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h as usize
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) at the start of `s`: its length.
fn metric_name_len(s: &[u8]) -> usize {
    match s.first() {
        Some(&b) if is_name_start(b) => 1 + s[1..].iter().take_while(|&&b| is_name_byte(b)).count(),
        _ => 0,
    }
}

fn skip_blanks(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && (s[i] == b' ' || s[i] == b'\t') {
        i += 1;
    }
    i
}

/// Go's `strconv.ParseFloat` as far as the format uses it: decimal and
/// exponent forms, `NaN`, `Inf`, `+Inf`, `-Inf` (any case).
fn parse_value(token: &str) -> Option<f64> {
    let b = token.as_bytes();
    let first_ok = matches!(b.first(), Some(c) if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'i' | b'I' | b'n' | b'N'));
    if !first_ok {
        return None;
    }
    crate::float_parse::parse(b)
}

impl Parsed {
    /// Parses `text`, replacing what was there. On `Err` the vectors hold
    /// garbage and the file must be skipped whole.
    pub fn parse(&mut self, text: &str) -> Result<(), Error> {
        self.families.clear();
        self.samples.clear();
        self.index.fill(EMPTY);
        let mut start = 0;
        let mut number = 0;
        while start < text.len() {
            number += 1;
            let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
            self.line(text, start, end)
                .map_err(|what| Error { line: number, what })?;
            start = end + 1;
        }
        // Group each family's samples, keeping the file's order within one
        // (`line.start` is distinct, so the crate's unstable sort is exact).
        // The format keeps a family's lines together, so this is usually
        // sorted already and costs one pass.
        if !self.samples.is_sorted_by_key(|s| (s.family, s.line.start)) {
            crate::sort::sort_by_key(&mut self.samples, |s| (s.family, s.line.start));
        }
        let mut i = 0;
        for (index, family) in self.families.iter_mut().enumerate() {
            family.first_sample = i;
            while i < self.samples.len() && self.samples[i].family == index {
                i += 1;
            }
            family.end_sample = i;
        }
        Ok(())
    }

    fn find(&self, text: &str, name: &str) -> Option<usize> {
        if self.index.is_empty() {
            return None;
        }
        let mask = self.index.len() - 1;
        let mut h = hash(name) & mask;
        loop {
            match self.index[h] {
                EMPTY => return None,
                i if text[self.families[i as usize].name.clone()] == *name => {
                    return Some(i as usize);
                }
                _ => h = (h + 1) & mask,
            }
        }
    }

    /// Puts family `i` into the index, growing it (and re-inserting all)
    /// when it would be more than half full.
    fn index_family(&mut self, text: &str, i: usize) {
        if self.families.len() * 2 > self.index.len() {
            let capacity = (self.families.len() * 4).next_power_of_two().max(64);
            self.index.clear();
            self.index.resize(capacity, EMPTY);
            for j in 0..self.families.len() {
                self.insert(text, j);
            }
        } else {
            self.insert(text, i);
        }
    }

    fn insert(&mut self, text: &str, i: usize) {
        let mask = self.index.len() - 1;
        let mut h = hash(&text[self.families[i].name.clone()]) & mask;
        while self.index[h] != EMPTY {
            h = (h + 1) & mask;
        }
        self.index[h] = i as u32;
    }

    fn find_or_add(&mut self, text: &str, name: Range<usize>) -> usize {
        if let Some(i) = self.find(text, &text[name.clone()]) {
            return i;
        }
        self.families.push(Family {
            name,
            kind: Kind::Untyped,
            help: None,
            typed: false,
            has_samples: false,
            first_sample: 0,
            end_sample: 0,
        });
        let i = self.families.len() - 1;
        self.index_family(text, i);
        i
    }

    fn line(&mut self, text: &str, start: usize, end: usize) -> Result<(), &'static str> {
        let b = text.as_bytes();
        let i = skip_blanks(&b[..end], start);
        if i == end {
            return Ok(());
        }
        if b[i] == b'#' {
            return self.comment(text, i + 1, end);
        }
        self.sample(text, i, end)
    }

    fn comment(&mut self, text: &str, from: usize, end: usize) -> Result<(), &'static str> {
        let b = &text.as_bytes()[..end];
        let i = skip_blanks(b, from);
        let word_end = i + b[i..]
            .iter()
            .take_while(|&&c| c != b' ' && c != b'\t')
            .count();
        let word = &text[i..word_end];
        if word != "HELP" && word != "TYPE" {
            return Ok(()); // an ordinary comment
        }
        let n = skip_blanks(b, word_end);
        let len = metric_name_len(&b[n..]);
        if len == 0 {
            return Err("invalid metric name in comment");
        }
        let name = n..n + len;
        let after = n + len;
        if after < end && b[after] != b' ' && b[after] != b'\t' {
            return Err("invalid metric name in comment");
        }
        let rest = skip_blanks(b, after);
        let family = self.find_or_add(text, name);
        if word == "HELP" {
            if self.families[family].help.is_some() {
                return Err("second HELP line for a metric name");
            }
            let mut k = rest;
            while k < end {
                if b[k] == b'\\' {
                    if !matches!(b.get(k + 1), Some(b'\\' | b'n')) {
                        return Err("invalid escape sequence in HELP");
                    }
                    k += 1;
                }
                k += 1;
            }
            self.families[family].help = Some(rest..end);
        } else {
            let word = text[rest..end].trim_end_matches([' ', '\t']);
            let kind = Kind::parse(word).ok_or("unknown metric type")?;
            let f = &mut self.families[family];
            if f.typed {
                return Err("second TYPE line for a metric name");
            }
            if f.has_samples {
                return Err("TYPE line after samples of its metric");
            }
            f.typed = true;
            f.kind = kind;
        }
        Ok(())
    }

    /// The family a sample named `name` belongs to: `x_bucket`, `x_sum` and
    /// `x_count` join a histogram or summary `x`, as expfmt does.
    fn family_of(
        &mut self,
        text: &str,
        name: Range<usize>,
    ) -> Result<(usize, Kind, bool), &'static str> {
        let n = &text[name.clone()];
        for (suffix, kinds) in [
            ("_bucket", &[Kind::Histogram][..]),
            ("_sum", &[Kind::Histogram, Kind::Summary][..]),
            ("_count", &[Kind::Histogram, Kind::Summary][..]),
        ] {
            if let Some(base) = n.strip_suffix(suffix)
                && let Some(i) = self.find(text, base)
                && kinds.contains(&self.families[i].kind)
            {
                return Ok((i, self.families[i].kind, suffix == "_bucket"));
            }
        }
        let i = self.find_or_add(text, name);
        Ok((i, self.families[i].kind, false))
    }

    fn sample(&mut self, text: &str, start: usize, end: usize) -> Result<(), &'static str> {
        let b = &text.as_bytes()[..end];
        let len = metric_name_len(&b[start..]);
        if len == 0 {
            return Err("invalid metric name");
        }
        let name = start..start + len;
        let (family, kind, bucket) = self.family_of(text, name)?;
        let mut i = skip_blanks(b, start + len);
        // Labels: checked for syntax and duplicates; `le` and `quantile`
        // must be numbers where histograms and summaries need them.
        let mut needs = match kind {
            Kind::Histogram if bucket => Some("le"),
            Kind::Summary
                if text[start..start + len] == text[self.families[family].name.clone()] =>
            {
                Some("quantile")
            }
            _ => None,
        };
        let labels_start = i;
        let mut i_after_labels_or_name = start + len;
        if b.get(i) == Some(&b'{') {
            i = skip_blanks(b, i + 1);
            loop {
                if b.get(i) == Some(&b'}') {
                    i += 1;
                    break;
                }
                let l = i;
                if !b.get(i).is_some_and(|&c| is_label_start(c)) {
                    return Err("invalid label name");
                }
                while b.get(i).is_some_and(|&c| is_label_byte(c)) {
                    i += 1;
                }
                let label = &text[l..i];
                if label == "__name__" {
                    return Err("label name __name__ is reserved");
                }
                if self.label_seen(text, labels_start, l, label) {
                    return Err("duplicate label name");
                }
                i = skip_blanks(b, i);
                if b.get(i) != Some(&b'=') {
                    return Err("expected `=` after a label name");
                }
                i = skip_blanks(b, i + 1);
                if b.get(i) != Some(&b'"') {
                    return Err("expected `\"` to open a label value");
                }
                i += 1;
                let v = i;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated label value"),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            if !matches!(b.get(i + 1), Some(b'\\' | b'"' | b'n')) {
                                return Err("invalid escape sequence in a label value");
                            }
                            i += 2;
                        }
                        Some(_) => i += 1,
                    }
                }
                if needs == Some(label) {
                    let value = &text[v..i];
                    if value.contains('\\') || parse_value(value).is_none() {
                        return Err("`le` or `quantile` is not a number");
                    }
                    needs = None;
                }
                i = skip_blanks(b, i + 1);
                match b.get(i) {
                    Some(b',') => i = skip_blanks(b, i + 1),
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => return Err("expected `,` or `}` after a label value"),
                }
            }
        }
        if b.get(labels_start) == Some(&b'{') {
            i_after_labels_or_name = i;
        }
        if needs.is_some() {
            return Err("histogram bucket without `le` or summary without `quantile`");
        }
        let value_start = skip_blanks(b, i);
        if value_start == i_after_labels_or_name {
            return Err("expected a blank before the value");
        }
        let value_end = value_start
            + b[value_start..]
                .iter()
                .take_while(|&&c| c != b' ' && c != b'\t')
                .count();
        if parse_value(&text[value_start..value_end]).is_none() {
            return Err("invalid or missing sample value");
        }
        if skip_blanks(b, value_end) != end {
            // What expfmt would read as a timestamp; node_exporter's
            // textfile collector refuses the whole file for it.
            return Err("client-side timestamp (or text after the value): file skipped");
        }
        self.families[family].has_samples = true;
        self.samples.push(Sample {
            family,
            line: start..value_end,
        });
        Ok(())
    }

    /// Whether `label` occurs as a label name between `from` and `to` on
    /// this sample line (a rescan: lines are short, and this allocates nothing).
    fn label_seen(&self, text: &str, from: usize, to: usize, label: &str) -> bool {
        let b = text.as_bytes();
        let mut i = from + 1; // past `{`
        while i < to {
            i = skip_blanks(b, i);
            let l = i;
            while i < to && is_label_byte(b[i]) {
                i += 1;
            }
            if &text[l..i] == label {
                return true;
            }
            // Skip `= "value"` and the separator.
            while i < to && b[i] != b'"' {
                i += 1;
            }
            i += 1;
            while i < to && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            while i < to && (b[i] == b',' || b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Vec<(String, Kind, Vec<String>)>, Error> {
        let mut p = Parsed::default();
        p.parse(text)?;
        Ok(p.families
            .iter()
            .filter(|f| f.end_sample > f.first_sample)
            .map(|f| {
                (
                    text[f.name.clone()].to_string(),
                    f.kind,
                    p.samples[f.first_sample..f.end_sample]
                        .iter()
                        .map(|s| text[s.line.clone()].to_string())
                        .collect(),
                )
            })
            .collect())
    }

    #[test]
    fn good_files_parse() {
        for (text, families) in [
            ("", 0),
            ("\n\n# a comment\n", 0),
            ("a 1\n", 1),
            ("a 1", 1),
            ("  a\t1  \n", 1),
            ("a{} 1\n", 1),
            ("a{x=\"1\",} 1\n", 1),
            ("a{x=\"q\\\"\\\\\\n\", y = \"\"} NaN\n", 1),
            ("a +Inf\nb -Inf\nc 1e-3\nd .5\n", 4),
            (
                "# HELP a A \\\\ help\\n.\n# TYPE a counter\na 1\na{x=\"2\"} 2\n",
                1,
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
                1,
            ),
            (
                "# TYPE s summary\ns{quantile=\"0.9\"} 1\ns_sum 3\ns_count 2\n",
                1,
            ),
            ("# HELP empty no samples\n# TYPE empty gauge\n", 0),
            ("a{x=\"1\"} 1\nb 2\na{x=\"2\"} 3\n", 2),
            ("ns:rule_name 1\n", 1),
        ] {
            let got = check(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
            assert_eq!(got.len(), families, "{text:?}: {got:?}");
        }
    }

    #[test]
    fn non_contiguous_samples_are_grouped_in_file_order() {
        let got = check("a{x=\"1\"} 1\nb 2\na{x=\"2\"} 3\n").unwrap();
        assert_eq!(got[0].2, ["a{x=\"1\"} 1", "a{x=\"2\"} 3"]);
        let got = check("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n").unwrap();
        assert_eq!(
            got,
            [(
                "h".into(),
                Kind::Histogram,
                vec!["h_bucket{le=\"1\"} 1".into(), "h_count 1".into()]
            )]
        );
    }

    /// The hash index across its growth: every family found again by a
    /// sample after all of them were created.
    #[test]
    fn many_families_are_each_found_again() {
        let mut text = String::new();
        for pass in 0..2 {
            for i in 0..20_000 {
                text.push_str(&format!("family_{i}{{pass=\"{pass}\"}} {i}\n"));
            }
        }
        let got = check(&text).unwrap();
        assert_eq!(got.len(), 20_000);
        for (i, (name, _, samples)) in got.iter().enumerate() {
            assert_eq!(name, &format!("family_{i}"));
            assert_eq!(samples.len(), 2, "{name}");
        }
    }

    #[test]
    fn bad_files_are_refused_with_their_line() {
        for (text, line) in [
            ("a 1 1700000000000\n", 1),
            ("ok 1\na 1 17\n", 2),
            ("a{ 1\n", 1),
            ("a{x=1} 1\n", 1),
            ("a{x=\"1\" 1\n", 1),
            ("a{x=\"1\",x=\"2\"} 1\n", 1),
            ("a{__name__=\"b\"} 1\n", 1),
            ("a{x=\"\\t\"} 1\n", 1),
            ("a\n", 1),
            ("a one\n", 1),
            ("1a 1\n", 1),
            ("a{x=\"1\"}1\n", 1),
            ("# TYPE a gauge\n# TYPE a gauge\na 1\n", 2),
            ("# TYPE a nonsense\n", 1),
            ("# HELP a x\n# HELP a y\n", 2),
            ("# HELP a bad \\t escape\n", 1),
            ("a 1\n# TYPE a gauge\n", 2),
            ("# TYPE h histogram\nh_bucket 1\n", 2),
            ("# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", 2),
            ("# TYPE s summary\ns 1\n", 2),
            ("# HELP 1a x\n", 1),
        ] {
            match check(text) {
                Ok(got) => panic!("{text:?} accepted: {got:?}"),
                Err(e) => assert_eq!(e.line, line, "{text:?}: {e:?}"),
            }
        }
    }
}
