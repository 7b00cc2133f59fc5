//! The index's fields and the document of each published listing and demand.
//!
//! Text fields hold the analyser's terms (`domain::search::analyse`) separated by spaces, so
//! tantivy only splits on whitespace: the analysis is ours, the same at index and query time.
//! Every filter, facet and sort field is a fast field; the matching criteria are fast
//! fields too, so candidates are scored without reading the database.

use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::db::types::{OrganizationId, TypedId};
use crate::domain::search::analyse;
use crate::domain::taxonomy;
use crate::store::demands::Demand;
use crate::store::technologies::Listing;

/// Bump when the fields or the analyser change: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 3;

/// Which side of the exchange a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocType {
    Technology,
    Demand,
}

impl DocType {
    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Technology => "technology",
            DocType::Demand => "demand",
        }
    }
}

#[derive(Clone)]
pub struct Fields {
    pub schema: Schema,
    pub doc_type: Field,
    pub id: Field,
    pub id_hi: Field,
    pub id_lo: Field,
    /// Folded syllables of the title and the rest of the text.
    pub text: Field,
    /// Folded syllables of the title alone (a ranking tier: query words in the title).
    pub title: Field,
    /// Syllables with their accents (title and text).
    pub accented: Field,
    /// Adjacent folded syllables (`nuoc_thai`).
    pub pairs: Field,
    pub kind: Field,
    /// Each sector code and its field (`4.1` and `4`), so a field matches its sub-fields.
    pub sector: Field,
    pub province: Field,
    /// A listing's TRL; a demand's minimum TRL.
    pub trl: Field,
    /// A listing's price; a demand's budget (minor units) and its currency.
    pub price_min: Field,
    pub price_max: Field,
    /// The lowest asked amount, or `i64::MAX` without a price: ascending price sorts
    /// unpriced listings last.
    pub price_key: Field,
    pub currency: Field,
    pub transfer_form: Field,
    pub ip_type: Field,
    pub funding_level: Field,
    pub rights_status: Field,
    pub organization: Field,
    pub verified: Field,
    pub hides_organization: Field,
    /// Microseconds since the epoch.
    pub published_at: Field,
    /// Newest first, and one order among equals: publication time (microseconds) with the
    /// id's last 10 bits below it (room until the year 2255).
    pub recency: Field,
}

impl Fields {
    pub fn new() -> Self {
        let mut b = Schema::builder();
        let words = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("whitespace")
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let keyword = STRING | FAST;
        Fields {
            doc_type: b.add_text_field("doc_type", STRING),
            id: b.add_text_field("id", STRING),
            id_hi: b.add_u64_field("id_hi", FAST),
            id_lo: b.add_u64_field("id_lo", FAST),
            text: b.add_text_field("text", words.clone()),
            title: b.add_text_field(
                "title",
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer("whitespace")
                        .set_index_option(IndexRecordOption::Basic),
                ),
            ),
            accented: b.add_text_field("accented", words.clone()),
            pairs: b.add_text_field("pairs", words),
            kind: b.add_text_field("kind", keyword.clone()),
            sector: b.add_text_field("sector", keyword.clone()),
            province: b.add_text_field("province", keyword.clone()),
            trl: b.add_u64_field("trl", INDEXED | FAST),
            price_min: b.add_i64_field("price_min", INDEXED | FAST),
            price_max: b.add_i64_field("price_max", FAST),
            price_key: b.add_i64_field("price_key", FAST),
            currency: b.add_text_field("currency", keyword.clone()),
            transfer_form: b.add_text_field("transfer_form", keyword.clone()),
            ip_type: b.add_text_field("ip_type", keyword.clone()),
            funding_level: b.add_text_field("funding_level", keyword.clone()),
            rights_status: b.add_text_field("rights_status", keyword.clone()),
            organization: b.add_text_field("organization", STRING),
            verified: b.add_text_field("verified", keyword.clone()),
            hides_organization: b.add_text_field("hides_organization", STRING),
            published_at: b.add_i64_field("published_at", INDEXED | FAST),
            recency: b.add_i64_field("recency", FAST),
            schema: b.build(),
        }
    }

    fn common(
        &self,
        doc: &mut TantivyDocument,
        doc_type: DocType,
        id: impl TypedId,
        organization: OrganizationId,
    ) {
        doc.add_text(self.doc_type, doc_type.as_str());
        doc.add_text(self.id, id.to_string());
        let bits = Into::<uuid::Uuid>::into(id).as_u128();
        doc.add_u64(self.id_hi, (bits >> 64) as u64);
        doc.add_u64(self.id_lo, bits as u64);
        doc.add_text(self.organization, organization.to_string());
    }

    fn text(&self, doc: &mut TantivyDocument, title: &str, rest: &[&str]) {
        let t = analyse(&[title]);
        let r = analyse(rest);
        doc.add_text(self.text, format!("{} {}", t.folded, r.folded));
        doc.add_text(self.title, &t.folded);
        doc.add_text(self.accented, format!("{} {}", t.accented, r.accented));
        doc.add_text(self.pairs, format!("{} {}", t.pairs, r.pairs));
    }

    fn sectors(&self, doc: &mut TantivyDocument, sectors: &[String]) {
        let mut codes: Vec<&str> = Vec::new();
        for code in sectors {
            codes.push(code);
            if let Some(field) = taxonomy::sector_field(code) {
                codes.push(field);
            }
        }
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            doc.add_text(self.sector, code);
        }
    }

    fn money(&self, doc: &mut TantivyDocument, min: Option<i64>, max: Option<i64>, currency: &str) {
        if let Some(min) = min {
            doc.add_i64(self.price_min, min);
        }
        if let Some(max) = max {
            doc.add_i64(self.price_max, max);
        }
        doc.add_i64(self.price_key, min.or(max).unwrap_or(i64::MAX));
        doc.add_text(self.currency, currency);
    }

    fn published(&self, doc: &mut TantivyDocument, id: impl TypedId, at: chrono::NaiveDateTime) {
        let micros = at.and_utc().timestamp_micros();
        doc.add_i64(self.published_at, micros);
        let low = (Into::<uuid::Uuid>::into(id).as_u128() & 0x3ff) as i64;
        doc.add_i64(self.recency, (micros << 10) | low);
    }

    pub fn technology(&self, l: &Listing) -> TantivyDocument {
        let c = &l.content;
        let mut doc = TantivyDocument::default();
        self.common(&mut doc, DocType::Technology, l.id, l.organization_id);
        let keywords = c.keywords.join(", ");
        let mut rest = vec![c.summary.as_str(), keywords.as_str(), c.description.as_str()];
        rest.extend(c.advantages.as_deref());
        rest.extend(c.applications.as_deref());
        if let Some(r) = &c.research {
            rest.extend(r.programme.as_deref());
            rest.extend([
                r.task_code.as_str(),
                r.host_organization.as_str(),
                r.managing_agency.as_str(),
            ]);
            doc.add_text(self.funding_level, r.funding_level.as_str());
            doc.add_text(self.rights_status, r.rights_status.as_str());
        }
        self.text(&mut doc, &c.title, &rest);
        doc.add_text(self.kind, c.kind.as_str());
        self.sectors(&mut doc, &c.sectors);
        doc.add_text(self.province, &c.province);
        if let Some(trl) = c.trl {
            doc.add_u64(self.trl, u64::from(trl));
        }
        match &c.price {
            Some(p) => self.money(&mut doc, p.min, p.max, &p.currency),
            None => doc.add_i64(self.price_key, i64::MAX),
        }
        for t in &c.transfer_forms {
            doc.add_text(self.transfer_form, &t.form);
        }
        for ip in &c.ip_records {
            doc.add_text(self.ip_type, &ip.ip_type);
        }
        doc.add_text(self.verified, if l.organization_verified { "true" } else { "false" });
        doc.add_text(self.hides_organization, "false");
        self.published(&mut doc, l.id, l.published_at.unwrap_or(l.created_at));
        doc
    }

    pub fn demand(&self, d: &Demand) -> TantivyDocument {
        let c = &d.content;
        let mut doc = TantivyDocument::default();
        self.common(&mut doc, DocType::Demand, d.id, d.organization_id);
        let keywords = c.keywords.join(", ");
        let mut rest = vec![c.problem.as_str(), keywords.as_str()];
        rest.extend(c.requirements.as_deref());
        self.text(&mut doc, &c.title, &rest);
        self.sectors(&mut doc, &c.sectors);
        doc.add_text(self.province, &c.province);
        if let Some(trl) = c.trl_min {
            doc.add_u64(self.trl, u64::from(trl));
        }
        match &c.budget {
            Some(b) => self.money(&mut doc, b.min, b.max, &b.currency),
            None => doc.add_i64(self.price_key, i64::MAX),
        }
        for form in &c.transfer_forms {
            doc.add_text(self.transfer_form, form);
        }
        doc.add_text(self.verified, if d.organization_verified { "true" } else { "false" });
        doc.add_text(self.hides_organization, if c.hide_organization { "true" } else { "false" });
        self.published(&mut doc, d.id, d.published_at.unwrap_or(d.created_at));
        doc
    }
}

impl Default for Fields {
    fn default() -> Self {
        Self::new()
    }
}
