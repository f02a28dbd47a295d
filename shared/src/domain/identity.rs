//! Real-name identity: resident identity numbers (GB 11643-1999), names and
//! mainland mobile numbers, with the masks shown to everyone but the health
//! authority. `Debug` of these types prints the mask, never the value, so a
//! stray `{:?}` cannot leak personal data into a log.

use std::fmt;

use thiserror::Error;
use time::{Date, Month};

/// Province-level prefixes that resident ID numbers and the residence permits
/// of Hong Kong, Macao and Taiwan residents (81, 82, 83) start with.
/// The full six-digit division code is not checked against today's table:
/// a number keeps the code of the county that issued it, even after that
/// county was merged or renamed.
const PROVINCE_PREFIXES: [&str; 35] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44",
    "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83",
];

/// ISO 7064 MOD 11-2 weights for the first 17 characters (2^(17-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdNumberError {
    #[error("an ID number has 18 characters")]
    Length,
    #[error("an ID number has 17 digits followed by a digit or X")]
    Characters,
    #[error("the ID number's division code is not a Chinese province")]
    Division,
    #[error("the ID number's birth date is not a real past date")]
    BirthDate,
    #[error("the ID number's check character does not match")]
    CheckCharacter,
}

/// A validated 18-character resident identity number, `X` upper-cased.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

impl IdNumber {
    /// Validates `raw` against GB 11643: the division prefix, a real birth
    /// date not after `today`, and the MOD 11-2 check character.
    pub fn parse(raw: &str, today: Date) -> Result<Self, IdNumberError> {
        let raw = raw.trim();
        if raw.chars().count() != 18 {
            return Err(IdNumberError::Length);
        }
        let upper = raw.to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit) || !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
            return Err(IdNumberError::Characters);
        }
        if !PROVINCE_PREFIXES.contains(&&upper[..2]) {
            return Err(IdNumberError::Division);
        }
        let birth = birth_date(&upper[6..14]).ok_or(IdNumberError::BirthDate)?;
        if birth > today || birth.year() < 1890 {
            return Err(IdNumberError::BirthDate);
        }
        let sum: u32 = bytes[..17]
            .iter()
            .zip(WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        if CHECK_CHARS[(sum % 11) as usize] != bytes[17] {
            return Err(IdNumberError::CheckCharacter);
        }
        Ok(Self(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The six-digit division code of the county that issued the number.
    pub fn division(&self) -> &str {
        &self.0[..6]
    }

    pub fn birth_date(&self) -> Date {
        birth_date(&self.0[6..14]).expect("validated in parse")
    }

    /// First 6 and last 4 characters: `130602********1234`.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

fn birth_date(yyyymmdd: &str) -> Option<Date> {
    let year: i32 = yyyymmdd[..4].parse().ok()?;
    let month: u8 = yyyymmdd[4..6].parse().ok()?;
    let day: u8 = yyyymmdd[6..8].parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("a name has 2 to 30 characters")]
    Length,
    #[error("a name holds only Chinese characters, Latin letters, single spaces and the middle dot")]
    Characters,
}

/// A person's real name as written on the identity card: Chinese characters
/// (any CJK block, so rare characters in names are accepted), or Latin letters
/// for names transcribed that way, with `·` between the parts of names such as
/// 买买提·艾力.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        let count = name.chars().count();
        if !(2..=30).contains(&count) {
            return Err(NameError::Length);
        }
        let mut previous_separator = true;
        for c in name.chars() {
            let separator = matches!(c, ' ' | '·' | '・');
            if separator && previous_separator {
                return Err(NameError::Characters);
            }
            if !(separator || is_cjk(c) || c.is_ascii_alphabetic()) {
                return Err(NameError::Characters);
            }
            previous_separator = separator;
        }
        if previous_separator {
            return Err(NameError::Characters);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Keeps the first character and, for names of three or more, the last:
    /// 张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜.
    pub fn masked(&self) -> String {
        mask_name(&self.0)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({})", self.masked())
    }
}

/// The name mask, for names already stored.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [first] | [first, _] => format!("{first}*"),
        [first, middle @ .., last] => {
            let mut out = String::with_capacity(name.len());
            out.push(*first);
            out.extend(std::iter::repeat_n('*', middle.len()));
            out.push(*last);
            out
        }
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF      // Extension A
        | 0x4E00..=0x9FFF    // Unified Ideographs
        | 0xF900..=0xFAFF    // Compatibility Ideographs
        | 0x20000..=0x323AF  // Extensions B to H
    ) || c == '〇'
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a mainland mobile number has 11 digits and starts with 1")]
pub struct PhoneError;

/// A mainland China mobile number: 11 digits, `1` then a digit from 3 to 9.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let digits = raw.trim();
        let digits = digits.strip_prefix("+86").unwrap_or(digits);
        let b = digits.as_bytes();
        if b.len() == 11 && b.iter().all(u8::is_ascii_digit) && b[0] == b'1' && b[1] >= b'3' {
            Ok(Self(digits.to_owned()))
        } else {
            Err(PhoneError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_keyed_hash_does_not_depend_on_the_case_of_x() {
        let keys = crate::crypto::PiiKeys::new(&[7u8; 32], &[1u8; 32], None);
        let upper = IdNumber::parse("11010519491231002X", TODAY).unwrap();
        let lower = IdNumber::parse("11010519491231002x", TODAY).unwrap();
        assert_eq!(keys.id_hash(upper.as_str()), keys.id_hash(lower.as_str()));
    }

    const TODAY: Date = date!(2026 - 11 - 26);

    /// Appends the check character to 17 digits, for building vectors.
    /// ISO 7064 MOD 11-2 from its definition: the weight of position i
    /// (counted from 1 at the right, check included) is 2^(i-1) mod 11, and
    /// the check value makes the weighted sum 1 mod 11.
    fn with_check(first17: &str) -> String {
        let sum: u32 = first17
            .bytes()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * (2u32.pow(17 - i as u32) % 11))
            .sum();
        let check = (12 - sum % 11) % 11;
        let c = if check == 10 {
            'X'
        } else {
            char::from_digit(check, 10).unwrap()
        };
        format!("{first17}{c}")
    }

    #[test]
    fn accepts_the_example_of_the_standard() {
        let id = IdNumber::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(id.division(), "110105");
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.masked(), "110105********002X");
    }

    #[test]
    fn accepts_a_lower_case_x_and_stores_it_upper_case() {
        let id = IdNumber::parse("11010519491231002x", TODAY).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn accepts_every_check_character() {
        // Sequence numbers 000..=199 of one county and day cover all eleven
        // check characters, computed here independently of `WEIGHTS`.
        let mut seen = std::collections::BTreeSet::new();
        for seq in 0..200 {
            let id = with_check(&format!("13060219900101{seq:03}"));
            assert!(IdNumber::parse(&id, TODAY).is_ok(), "sequence {seq}");
            seen.insert(id.as_bytes()[17]);
        }
        assert_eq!(seen.len(), 11);
    }

    #[test]
    fn rejects_a_wrong_check_character() {
        assert_eq!(
            IdNumber::parse("110105194912310021", TODAY),
            Err(IdNumberError::CheckCharacter)
        );
        let good = with_check("13060219900101123");
        let last = good.as_bytes()[17];
        let wrong = if last == b'0' { '1' } else { '0' };
        let bad = format!("{}{wrong}", &good[..17]);
        assert_eq!(IdNumber::parse(&bad, TODAY), Err(IdNumberError::CheckCharacter));
    }

    #[test]
    fn rejects_impossible_birth_dates() {
        assert_eq!(
            IdNumber::parse(&with_check("13060219900230123"), TODAY),
            Err(IdNumberError::BirthDate)
        );
        assert_eq!(
            IdNumber::parse(&with_check("13060219901301123"), TODAY),
            Err(IdNumberError::BirthDate)
        );
        assert_eq!(
            IdNumber::parse(&with_check("13060220270101123"), TODAY),
            Err(IdNumberError::BirthDate)
        );
        assert_eq!(
            IdNumber::parse(&with_check("13060219000229123"), TODAY),
            Err(IdNumberError::BirthDate)
        );
        assert!(IdNumber::parse(&with_check("13060220000229123"), TODAY).is_ok());
        assert!(IdNumber::parse(&with_check("13060220261126123"), TODAY).is_ok());
    }

    #[test]
    fn rejects_wrong_lengths_and_characters() {
        assert_eq!(IdNumber::parse("11010519491231002", TODAY), Err(IdNumberError::Length));
        assert_eq!(
            IdNumber::parse("11010519491231002X1", TODAY),
            Err(IdNumberError::Length)
        );
        assert_eq!(IdNumber::parse("", TODAY), Err(IdNumberError::Length));
        assert_eq!(
            IdNumber::parse("1101051949123100X2", TODAY),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            IdNumber::parse("11010519491231002Y", TODAY),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            IdNumber::parse("１１０１０５１９４９１２３１００２X", TODAY),
            Err(IdNumberError::Characters)
        );
    }

    #[test]
    fn rejects_unknown_province_prefixes() {
        assert_eq!(
            IdNumber::parse(&with_check("99010219900101123"), TODAY),
            Err(IdNumberError::Division)
        );
        assert_eq!(
            IdNumber::parse(&with_check("00010219900101123"), TODAY),
            Err(IdNumberError::Division)
        );
    }

    #[test]
    fn debug_shows_only_the_mask() {
        let id = IdNumber::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(format!("{id:?}"), "IdNumber(110105********002X)");
        let phone = Phone::parse("13812345678").unwrap();
        assert!(!format!("{phone:?}").contains("12345678"));
        let name = PersonName::parse("张三丰").unwrap();
        assert!(!format!("{name:?}").contains('三'));
    }

    #[test]
    fn masks_names_as_the_contract_shows() {
        assert_eq!(PersonName::parse("张三").unwrap().masked(), "张*");
        assert_eq!(PersonName::parse("张三丰").unwrap().masked(), "张*丰");
        assert_eq!(PersonName::parse("欧阳娜娜").unwrap().masked(), "欧**娜");
        assert_eq!(PersonName::parse("买买提·艾力").unwrap().masked(), "买****力");
    }

    #[test]
    fn accepts_real_names() {
        for name in ["张三", "欧阳娜娜", "买买提·艾力", "𠮷野家", "Li Ming", "  王五  "] {
            assert!(PersonName::parse(name).is_ok(), "{name}");
        }
        assert_eq!(PersonName::parse("  王五 ").unwrap().as_str(), "王五");
    }

    #[test]
    fn rejects_what_is_not_a_name() {
        assert_eq!(PersonName::parse("张"), Err(NameError::Length));
        assert_eq!(PersonName::parse(&"张".repeat(31)), Err(NameError::Length));
        for bad in [
            "张3",
            "张三!",
            "<script>",
            "张三'--",
            "·张三",
            "张三·",
            "张··三",
            "Li  Ming",
            "😀😀",
            "张\u{0}三",
        ] {
            assert_eq!(PersonName::parse(bad), Err(NameError::Characters), "{bad:?}");
        }
    }

    #[test]
    fn validates_and_masks_phones() {
        assert_eq!(Phone::parse("13812345678").unwrap().masked(), "138****5678");
        assert_eq!(Phone::parse("+8613812345678").unwrap().as_str(), "13812345678");
        for bad in [
            "1381234567",
            "138123456789",
            "23812345678",
            "12812345678",
            "1381234567a",
            "",
        ] {
            assert_eq!(Phone::parse(bad), Err(PhoneError), "{bad}");
        }
    }
}
