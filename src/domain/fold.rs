//! Vietnamese text folding: the one function every search uses on both the indexed text and
//! the query, so "nong nghiep huu co" finds "Nông nghiệp hữu cơ".

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// NFD-decomposes, drops combining marks (tones and vowel hats), maps đ/Đ to d, lowercases
/// and collapses runs of whitespace into single spaces.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match c {
            // đ/Đ are letters of their own, not d plus a mark, so NFD leaves them alone.
            'đ' | 'Đ' => out.push('d'),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn strips_tones_and_vowel_marks() {
        assert_eq!(fold("Nông nghiệp hữu cơ"), "nong nghiep huu co");
        assert_eq!(fold("Công nghệ sinh học"), "cong nghe sinh hoc");
        assert_eq!(fold("điều trị"), "dieu tri");
        assert_eq!(fold("Thanh Hóa"), "thanh hoa");
        assert_eq!(fold("Khoa học và Công nghệ"), "khoa hoc va cong nghe");
    }

    #[test]
    fn maps_d_with_stroke_in_both_cases() {
        assert_eq!(fold("ĐỒNG THÁP"), "dong thap");
        assert_eq!(fold("Đắk Lắk"), "dak lak");
        assert_eq!(fold("Quảng Ngãi, Đà Nẵng"), "quang ngai, da nang");
    }

    #[test]
    fn precomposed_and_decomposed_input_fold_alike() {
        let precomposed = "Thiết bị y tế";
        let decomposed: String =
            unicode_normalization::UnicodeNormalization::nfd(precomposed).collect();
        assert_ne!(precomposed, decomposed);
        assert_eq!(fold(precomposed), fold(&decomposed));
        assert_eq!(fold(&decomposed), "thiet bi y te");
    }

    #[test]
    fn collapses_whitespace_and_trims() {
        assert_eq!(fold("  Hà \t Nội\n\n  "), "ha noi");
        assert_eq!(fold(""), "");
        assert_eq!(fold("   "), "");
    }

    #[test]
    fn keeps_digits_and_ascii_and_is_idempotent() {
        let once = fold("Phần mềm quản lý IoT 4.0 — Hệ thống tưới tiêu");
        assert_eq!(once, "phan mem quan ly iot 4.0 — he thong tuoi tieu");
        assert_eq!(fold(&once), once);
    }
}
