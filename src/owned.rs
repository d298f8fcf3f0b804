//! Text copied into a new `String` by one function that is never inlined.
//!
//! std's `to_string`, `String::from` and `into()` of a `&str` inline the
//! allocation and the copy (some 70 bytes of code) at every call; sysmon has
//! over a hundred such copies on cold paths (configuration, errors, the
//! audit's parsers, thread names), where a call costs nothing that matters
//! and its few bytes keep the release binary under issue 2's 1.5 MiB
//! (README, *Where the bytes go*). Hot paths (the sampler, the renders, the
//! request loop) keep std's inline copy.

/// `text` as a new `String`, the same as `text.to_string()`.
#[inline(never)]
pub fn owned(text: &str) -> String {
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::owned;

    #[test]
    fn copies_the_text_as_it_is() {
        for text in ["", "a", "ünïcödé ✓", "line\nbreak\0nul"] {
            let copy = owned(text);
            assert_eq!(copy, text);
            assert_eq!(copy.len(), text.len());
        }
    }
}
