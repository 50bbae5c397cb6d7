//! Text for terminals and JSON: cutting to a width, hashes in hex.

/// `text` cut to `width` characters, with an ellipsis when cut.
pub(crate) fn short(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A 32-byte hash in lowercase hex, as every JSON output and the ledger format write it.
pub(crate) fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_cuts_on_characters_not_bytes() {
        assert_eq!(short("Zürich hub", 20), "Zürich hub");
        assert_eq!(short("Zürich hub", 4), "Zür…");
    }

    #[test]
    fn hashes_are_lowercase_hex_of_64_digits() {
        let mut hash = [0u8; 32];
        hash[0] = 0xab;
        hash[31] = 0x0f;
        let text = hex(&hash);
        assert_eq!(text.len(), 64);
        assert!(text.starts_with("ab00") && text.ends_with("000f"), "{text}");
    }
}
