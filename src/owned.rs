//! Text copied into a new `String` by functions that are never inlined.
//!
//! std's `to_string`, `String::from` and `into()` of a `&str` inline the
//! allocation and the copy (some 70 bytes of code) at every call; sysmon has
//! over a hundred such copies on cold paths (configuration, errors, the
//! audit's parsers, thread names), where a call costs nothing that matters
//! and its few bytes keep the release binary under issue 2's 1.5 MiB
//! (README, *Where the bytes go*). Hot paths (the sampler, the renders, the
//! request loop) keep std's inline copy.
//!
//! The same for a value's `Display` text ([`text_of`]): `to_string` of an
//! `io::Error`, a path's `display()` or a number inlines the formatter's
//! set-up, some 100 bytes a call; through `&dyn Display` it is one call.

/// `text` as a new `String`, the same as `text.to_string()`.
#[inline(never)]
pub fn owned(text: &str) -> String {
    text.to_string()
}

/// `value`'s `Display` text as a new `String`, the same as
/// `value.to_string()`.
#[inline(never)]
pub fn text_of(value: &dyn std::fmt::Display) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::{owned, text_of};

    #[test]
    fn copies_the_text_as_it_is() {
        for text in ["", "a", "ünïcödé ✓", "line\nbreak\0nul"] {
            let copy = owned(text);
            assert_eq!(copy, text);
            assert_eq!(copy.len(), text.len());
        }
    }

    #[test]
    fn displays_as_to_string_does() {
        let error = std::io::Error::from_raw_os_error(2);
        assert_eq!(text_of(&error), error.to_string());
        let path = std::path::Path::new("/tmp/a b/ü");
        assert_eq!(text_of(&path.display()), "/tmp/a b/ü");
        assert_eq!(text_of(&4_294_967_295u32), "4294967295");
    }
}
