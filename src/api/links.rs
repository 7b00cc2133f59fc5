//! RFC 8288 `Link` headers on every page of a list: `first`, `prev`, `next` and `last`,
//! as path-absolute URIs that keep the request's other query parameters. Read from the
//! page body the handler built (`…],"page":N,"per_page":N,"total":N`), so every list —
//! `Page_*` and `SearchPage_*` alike — gets them without each handler repeating it.

/// `page`, `per_page` and `total` of a serialised page, if `body` is one.
fn paging(body: &[u8]) -> Option<(u64, u64, u64)> {
    const MARK: &[u8] = b"],\"page\":";
    let at = body.windows(MARK.len()).rposition(|w| w == MARK)? + MARK.len();
    let text = std::str::from_utf8(&body[at..]).ok()?;
    let number = |s: &str| -> Option<(u64, usize)> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        Some((s[..end].parse().ok()?, end))
    };
    let (page, used) = number(text)?;
    let rest = text[used..].strip_prefix(",\"per_page\":")?;
    let (per_page, used) = number(rest)?;
    let rest = rest[used..].strip_prefix(",\"total\":")?;
    let (total, _) = number(rest)?;
    Some((page, per_page, total))
}

/// The `Link` value for a page of `path?query`, or `None` when `body` is not a page.
pub fn header_value(path: &str, query: &str, body: &[u8]) -> Option<String> {
    let (page, per_page, total) = paging(body)?;
    if per_page == 0 {
        return None;
    }
    let last = total.div_ceil(per_page).max(1);
    let others: Vec<&str> =
        query.split('&').filter(|p| !p.is_empty() && !p.starts_with("page=")).collect();
    let uri = |n: u64| {
        let mut params = others.clone();
        let page = format!("page={n}");
        params.push(&page);
        format!("{path}?{}", params.join("&"))
    };
    let mut links = vec![format!("<{}>; rel=\"first\"", uri(1))];
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", uri((page - 1).min(last))));
    }
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", uri(page + 1)));
    }
    links.push(format!("<{}>; rel=\"last\"", uri(last)));
    Some(links.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_of_a_middle_page_keep_the_other_parameters() {
        let body = br#"{"items":[{"id":"1"}],"page":2,"per_page":10,"total":35}"#;
        let value = header_value("/api/v1/deals", "stage=open&page=2&per_page=10", body).unwrap();
        assert_eq!(
            value,
            "</api/v1/deals?stage=open&per_page=10&page=1>; rel=\"first\", \
             </api/v1/deals?stage=open&per_page=10&page=1>; rel=\"prev\", \
             </api/v1/deals?stage=open&per_page=10&page=3>; rel=\"next\", \
             </api/v1/deals?stage=open&per_page=10&page=4>; rel=\"last\""
        );
    }

    #[test]
    fn an_empty_list_has_one_page_and_search_pages_count() {
        let value = header_value("/x", "", br#"{"items":[],"page":1,"per_page":20,"total":0}"#);
        assert_eq!(value.unwrap(), "</x?page=1>; rel=\"first\", </x?page=1>; rel=\"last\"");
        let search = br#"{"items":[],"page":1,"per_page":20,"total":41,"facets":{"kind":{"a":1}}}"#;
        assert!(
            header_value("/s", "q=a", search).unwrap().contains("</s?q=a&page=3>; rel=\"last\"")
        );
        assert_eq!(header_value("/t", "", br#"{"id":"x","page":"a"}"#), None);
    }
}
