//! Spellings people use for the same thing. Each group lists equivalent phrases (written as
//! people type them; folded when used); a query holding one phrase of a group also finds
//! the others. Add a group here to extend search: the query code reads the table as it is.

use crate::domain::fold::fold;

/// Groups of equivalent phrases.
pub const GROUPS: &[&[&str]] = &[
    &["vaccine", "vắc xin", "vacxin", "vaxin"],
    &["iot", "internet vạn vật", "internet of things"],
    &["ai", "trí tuệ nhân tạo", "artificial intelligence"],
    &["uav", "drone", "máy bay không người lái", "thiết bị bay không người lái"],
    &["blockchain", "chuỗi khối"],
    &["biogas", "khí sinh học"],
    &["nano", "công nghệ nano"],
    &["gps", "định vị vệ tinh"],
    &["pin mặt trời", "điện mặt trời", "quang điện", "solar"],
    &["phân bón hữu cơ", "phân hữu cơ"],
];

fn syllables(phrase: &str) -> Vec<String> {
    fold(phrase)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The phrases of `words` (folded query words) that belong to a group: `(start, len,
/// the group's other phrases as folded syllables)`, longest phrase first where they overlap.
pub fn find(words: &[String]) -> Vec<(usize, usize, Vec<Vec<String>>)> {
    let mut found = Vec::new();
    let mut covered = vec![false; words.len()];
    let mut candidates: Vec<(usize, usize, usize)> = Vec::new();
    for (group, phrases) in GROUPS.iter().enumerate() {
        for phrase in *phrases {
            let phrase = syllables(phrase);
            if phrase.is_empty() || phrase.len() > words.len() {
                continue;
            }
            for start in 0..=words.len() - phrase.len() {
                if words[start..start + phrase.len()] == phrase[..] {
                    candidates.push((start, phrase.len(), group));
                }
            }
        }
    }
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (start, len, group) in candidates {
        if covered[start..start + len].iter().any(|c| *c) {
            continue;
        }
        covered[start..start + len].iter_mut().for_each(|c| *c = true);
        let own = &words[start..start + len];
        let alternatives: Vec<Vec<String>> =
            GROUPS[group].iter().map(|p| syllables(p)).filter(|p| p[..] != own[..]).collect();
        found.push((start, len, alternatives));
    }
    found.sort_by_key(|f| f.0);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        syllables(text)
    }

    #[test]
    fn a_phrase_finds_its_group() {
        let found = find(&words("vac xin ca tra"));
        assert_eq!(found.len(), 1);
        let (start, len, alternatives) = &found[0];
        assert_eq!((*start, *len), (0, 2));
        assert!(alternatives.contains(&vec!["vaccine".to_owned()]));
        assert!(alternatives.contains(&vec!["vacxin".to_owned()]));
        assert!(!alternatives.contains(&vec!["vac".to_owned(), "xin".to_owned()]));
    }

    #[test]
    fn longest_phrase_wins_and_unrelated_words_find_nothing() {
        let found = find(&words("cong nghe nano"));
        assert_eq!((found[0].0, found[0].1), (0, 3));
        assert!(find(&words("xu ly nuoc thai")).is_empty());
    }

    #[test]
    fn every_group_has_two_phrases_that_fold_to_words() {
        for group in GROUPS {
            assert!(group.len() >= 2, "{group:?}");
            for phrase in *group {
                assert!(!syllables(phrase).is_empty(), "{phrase}");
            }
        }
    }
}
