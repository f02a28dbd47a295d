//! Free text that people type into records others will read: a venue's name
//! and address on its poster, an officer's reason for a verification.

/// Punctuation of Chinese and English names and addresses.
const PUNCTUATION: &str = " ·・-—–()（）【】《》,，.。、:：#/+&!！?？";

/// Trims `value` and accepts it if it holds `min` to `max` characters of
/// letters of any script, digits, single spaces and [`PUNCTUATION`].
///
/// Quotes, semicolons, `=`, `<>`, `$`, braces, backslashes, `|`, backticks
/// and control characters are refused: no place name or officer's note needs
/// them, and refusing them keeps injection strings out of the store, the
/// posters and the logs.
pub fn plain_text(value: &str, min: usize, max: usize) -> Option<String> {
    let value = value.trim();
    let count = value.chars().count();
    let allowed = |c: char| c.is_alphanumeric() || PUNCTUATION.contains(c);
    let no_double_space = !value.contains("  ");
    ((min..=max).contains(&count) && no_double_space && value.chars().all(allowed)).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_pass() {
        for ok in [
            "石家庄市长安区建设北大街66号",
            "A&B 超市（东店）",
            "保定·白沟新城 3-2-101",
            "No. 5, Jianshe Rd.",
        ] {
            assert_eq!(plain_text(ok, 2, 100).as_deref(), Some(ok), "{ok}");
        }
    }

    #[test]
    fn injection_and_markup_fail() {
        for bad in [
            "' OR '1'='1",
            "x; DROP TABLE venues",
            "<script>alert(1)</script>",
            "${jndi:ldap://x}",
            "a\\b",
            "name = :v",
            "`rm`",
            "a|b",
            "tab\there",
            "a  b",
        ] {
            assert_eq!(plain_text(bad, 1, 100), None, "{bad}");
        }
        assert_eq!(plain_text("店", 2, 50), None);
        assert_eq!(plain_text(&"店".repeat(51), 2, 50), None);
    }
}
