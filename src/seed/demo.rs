//! `techx seed --demo`: a small, living exchange to look at and try from `/docs/`.
//!
//! Everything goes through the store functions the API handlers call, in the order a real
//! exchange would see it (organisations verified by staff, listings submitted and approved,
//! demands published, enquiries answered, deals moved stage by stage under the same state
//! machine checks, valuation requests assigned and completed), in one write transaction.
//! The owners' notification mails land in the outbox like any others.
//!
//! Idempotent: the staff account [`MARKER_EMAIL`] marks a loaded demo; when it exists
//! nothing is written (and no password is shown again).

use chrono::{Datelike, NaiveDate};
use rand::Rng;

use crate::auth::PlatformRole;
use crate::db::types::{OrganizationId, UserId, now};
use crate::db::{DbConn, dialect};
use crate::domain::deals::{self as machine, ChecklistItem, Stage};
use crate::domain::demand::{Budget, DemandContent};
use crate::domain::lang::Lang;
use crate::domain::listing::{
    self, Content, IpRecord, IpStatus, Money, Price, Research, RightsStatus, TransferOffer,
};
use crate::domain::moderation::Status;
use crate::domain::validate::normalize_email;
use crate::domain::valuation_request::Status as VStatus;
use crate::error::ApiError;
use crate::search::Search;
use crate::search::matching::{notify_for_demand, notify_for_technology};
use crate::store::deals::{self, By, Deal, Move, NewDeal, Sides, Terms, TransferForm};
use crate::store::inquiries::{self, NewInquiry};
use crate::store::organizations::{self, Profile};
use crate::store::users::{self, NewUser};
use crate::store::valuations::{self, Change, NewRequest, Outcome as ValuationOutcome};
use crate::store::{demands, moderation, technologies};

use super::demo_data::{DEMANDS, LISTINGS, ListingSpec, M, ORGS};

/// The administrator of the demo; its presence means the demo is loaded.
pub const MARKER_EMAIL: &str = "admin@demo.techx.vn";

/// What the run settles: listing validity and the match notification threshold, as the
/// server is configured.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub validity_days: u32,
    pub match_notify_threshold: u8,
}

/// A demo account and its password, shown once.
#[derive(Debug, Clone)]
pub struct Credential {
    pub email: String,
    pub password: String,
    /// Who this is, e.g. "owner of Viện … (research_institute, thanh-hoa)".
    pub role: String,
}

#[derive(Debug)]
pub enum LoadOutcome {
    /// Loaded now; the credentials are shown this once.
    Loaded(Vec<Credential>),
    /// Loaded by an earlier run: nothing was written.
    AlreadyLoaded,
}

fn org_index(key: &str) -> Result<usize, ApiError> {
    ORGS.iter().position(|o| o.key == key).ok_or_else(ApiError::internal)
}

fn listing_content(spec: &ListingSpec, host: &str, today: NaiveDate) -> Result<Content, ApiError> {
    let content = Content {
        kind: spec.kind,
        language: Lang::Vi,
        title: spec.title.into(),
        summary: spec.summary.into(),
        description: spec.description.into(),
        advantages: spec.advantages.map(str::to_owned),
        applications: spec.applications.map(str::to_owned),
        sectors: spec.sectors.iter().map(|s| (*s).to_owned()).collect(),
        keywords: spec.keywords.iter().map(|s| (*s).to_owned()).collect(),
        trl: Some(spec.trl),
        ip_records: spec
            .ip
            .map(|(ip_type, number)| IpRecord {
                ip_type: ip_type.into(),
                number: Some(number.into()),
                status: IpStatus::Granted,
                filing_date: None,
                grant_date: None,
                territory: Some("Việt Nam".into()),
            })
            .into_iter()
            .collect(),
        transfer_forms: spec
            .forms
            .iter()
            .map(|form| TransferOffer {
                form: (*form).into(),
                exclusive: (*form == "usage_licence").then_some(false),
                sublicensing: None,
                territory: (*form == "usage_licence").then(|| "Việt Nam".into()),
                term_months: None,
            })
            .collect(),
        price: spec.price.as_ref().map(|p| Price {
            min: Some(p.min),
            max: p.max,
            currency: p.currency.into(),
            basis: p.basis,
        }),
        province: spec.province.into(),
        contact_visibility: spec.contact,
        research: spec.research.as_ref().map(|r| Research {
            funding_level: r.level,
            programme: Some(r.programme.into()),
            task_code: r.task_code.into(),
            host_organization: host.into(),
            managing_agency: r.agency.into(),
            budget_spent: Some(Money { amount: r.budget, currency: "VND".into() }),
            completion_year: Some(r.year),
            rights_status: r.rights,
            assignee: (r.rights != RightsStatus::StateOwned).then(|| host.into()),
        }),
    }
    .normalized();
    // The demo must be what the API would accept; a failure here is a bug in this file.
    let problems = listing::validate(&content, today);
    if let Some(p) = problems.first() {
        tracing::error!(listing = spec.key, field = %p.field, message = %p.message, "invalid demo listing");
        return Err(ApiError::internal());
    }
    Ok(content)
}

fn password(rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let raw: String =
        (0..15).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect();
    // Grouped for reading off a screen.
    format!("{}-{}-{}", &raw[..5], &raw[5..10], &raw[10..])
}

/// Whether the demo is loaded already.
pub fn is_loaded(conn: &mut DbConn) -> Result<bool, ApiError> {
    Ok(users::find_by_email(conn, &normalize_email(MARKER_EMAIL))?.is_some())
}

/// Loads the demo unless it is there already. Migrations must have run.
/// `search` is an index the loading run keeps current itself (standing matches are found
/// through it as the demo publishes).
pub fn load(
    conn: &mut DbConn,
    settings: Settings,
    search: &Search,
) -> Result<LoadOutcome, ApiError> {
    if is_loaded(conn)? {
        return Ok(LoadOutcome::AlreadyLoaded);
    }
    // Hashing is slow by design: done before the transaction so it stays short.
    let mut rng = rand::thread_rng();
    let mut accounts: Vec<(Credential, String, PlatformRole, &str)> = Vec::new();
    let staff = [
        (MARKER_EMAIL, "Quản trị sàn (Sở KH&CN)", PlatformRole::Admin, "exchange administrator"),
        (
            "kiemduyet@demo.techx.vn",
            "Kiểm duyệt viên",
            PlatformRole::Moderator,
            "exchange moderator: reviews listings and demands, verifies organisations",
        ),
    ];
    for (email, name, role, what) in staff {
        let pw = password(&mut rng);
        let hash = crate::auth::password::hash(&pw)?;
        accounts.push((
            Credential { email: email.into(), password: pw, role: what.into() },
            hash,
            role,
            name,
        ));
    }
    for o in ORGS {
        let pw = password(&mut rng);
        let hash = crate::auth::password::hash(&pw)?;
        accounts.push((
            Credential {
                email: o.email.into(),
                password: pw,
                role: format!("owner of {} ({}, {})", o.name, o.kind, o.province),
            },
            hash,
            PlatformRole::Member,
            o.person,
        ));
    }
    dialect::write_transaction(conn, |conn| {
        // A concurrent run may have loaded it meanwhile; the write lock is ours now.
        if is_loaded(conn)? {
            return Ok(LoadOutcome::AlreadyLoaded);
        }
        write(conn, settings, search, &accounts)?;
        Ok(LoadOutcome::Loaded(accounts.iter().map(|a| a.0.clone()).collect()))
    })
}

struct Party {
    org: OrganizationId,
    user: UserId,
}

fn write(
    conn: &mut DbConn,
    settings: Settings,
    search: &Search,
    accounts: &[(Credential, String, PlatformRole, &str)],
) -> Result<(), ApiError> {
    let today = now().date();
    let mut user_ids = Vec::new();
    for (credential, hash, role, name) in accounts {
        let user = users::create(
            conn,
            &NewUser {
                email: &credential.email,
                email_normalized: &normalize_email(&credential.email),
                password_hash: hash,
                display_name: name,
                language: "vi",
                role: *role,
                verified: true,
            },
        )?;
        user_ids.push(user.id);
    }
    let moderator = user_ids[1];
    let mut parties = Vec::new();
    for (i, o) in ORGS.iter().enumerate() {
        let owner = user_ids[2 + i];
        let org = organizations::create(
            conn,
            &Profile {
                name: o.name.into(),
                kind: o.kind.into(),
                tax_code: None,
                province: o.province.into(),
                address: None,
                website: o.website.map(str::to_owned),
                description: Some(o.description.into()),
                sectors: o.sectors.iter().map(|s| (*s).to_owned()).collect(),
                services: o.services.iter().map(|s| (*s).to_owned()).collect(),
            },
            owner,
        )?;
        // One of each kind stays unverified, so staff have something to verify.
        if o.key != "htx" && o.key != "cty-phanmem" {
            organizations::set_verification(
                conn,
                org.id,
                true,
                Some("Đã kiểm tra giấy chứng nhận đăng ký."),
                moderator,
            )?;
        }
        parties.push(Party { org: org.id, user: owner });
    }
    let party = |key: &str| -> Result<&Party, ApiError> { Ok(&parties[org_index(key)?]) };

    // Listings, through the moderation path.
    let mut listed = Vec::new();
    for spec in LISTINGS {
        let owner = party(spec.org)?;
        let host = ORGS[org_index(spec.org)?].name;
        let content = listing_content(spec, host, today)?;
        let mut listing = technologies::create(conn, owner.org, owner.user, &content)?;
        if spec.status != Status::Draft {
            listing = moderation::submit(conn, &listing)?;
        }
        if spec.status == Status::Published {
            listing = moderation::approve(conn, &listing, moderator, settings.validity_days)?;
            notify_for_technology(conn, search, &listing, settings.match_notify_threshold)?;
        }
        listed.push((spec.key, listing));
    }
    let listing = |key: &str| -> Result<technologies::Listing, ApiError> {
        listed
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, l)| l.clone())
            .ok_or_else(ApiError::internal)
    };

    // Demands.
    for spec in DEMANDS {
        let owner = party(spec.org)?;
        let content = DemandContent {
            language: Lang::Vi,
            title: spec.title.into(),
            problem: spec.problem.into(),
            requirements: spec.requirements.map(str::to_owned),
            sectors: spec.sectors.iter().map(|s| (*s).to_owned()).collect(),
            keywords: spec.keywords.iter().map(|s| (*s).to_owned()).collect(),
            trl_min: Some(spec.trl_min),
            budget: spec.budget_max.map(|max| Budget {
                min: None,
                max: Some(max),
                currency: "VND".into(),
            }),
            transfer_forms: spec.forms.iter().map(|s| (*s).to_owned()).collect(),
            province: spec.province.into(),
            deadline: NaiveDate::from_ymd_opt(today.year() + 1, 6, 30),
            hide_organization: false,
        }
        .normalized();
        let problems = crate::domain::demand::validate(&content, today);
        if let Some(p) = problems.first() {
            tracing::error!(field = %p.field, message = %p.message, "invalid demo demand");
            return Err(ApiError::internal());
        }
        let draft = demands::create(conn, owner.org, owner.user, &content)?;
        let pending = moderation::submit(conn, &draft)?;
        if spec.status == Status::Published {
            let published = moderation::approve(conn, &pending, moderator, settings.validity_days)?;
            search.sync(conn)?;
            notify_for_demand(conn, search, &published, settings.match_notify_threshold)?;
        }
    }

    // Enquiries: (listing, from, message, intended use, form, the seller's answer).
    type Enquiry<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, Option<&'a str>);
    let enquiries: [Enquiry; 5] = [
        (
            "xu-ly-nuoc-thai",
            "cty-channuoi",
            "Trang trại chúng tôi có 5 000 lợn thịt, xin báo giá hệ thống 150 m³/ngày và thời gian thi công.",
            "Xử lý nước thải trang trại tại Yên Định, Thanh Hóa.",
            "usage_licence",
            Some("Chúng tôi đề nghị khảo sát hiện trạng trong tuần tới và gửi phương án kỹ thuật."),
        ),
        (
            "cao-dinh-lang",
            "cty-duoc",
            "Công ty quan tâm nhận chuyển giao quy trình chiết xuất, xin hồ sơ độc tính và điều kiện chuyển giao.",
            "Sản xuất viên nang đinh lăng tại nhà máy GMP Cần Thơ.",
            "usage_licence",
            Some("Xin gửi kèm tóm tắt hồ sơ; đề nghị hai bên ký thỏa thuận bảo mật trước."),
        ),
        (
            "may-say",
            "htx",
            "Hợp tác xã cần máy sấy 500 kg/mẻ cho rau củ và dược liệu, có hỗ trợ lắp đặt tại Triệu Sơn không?",
            "Sấy rau củ, gừng và dược liệu cho chuỗi siêu thị.",
            "ownership_assignment",
            Some("Có, chúng tôi lắp đặt và đào tạo tại chỗ; máy giao sau 45 ngày kể từ khi ký."),
        ),
        (
            "iot-tuoi",
            "cty-phanmem",
            "Chúng tôi muốn tích hợp dữ liệu cảm biến vào ứng dụng của công ty qua API.",
            "Tích hợp vào ứng dụng nông nghiệp số.",
            "usage_licence",
            None,
        ),
        (
            "che-pham-vi-sinh",
            "htx",
            "Xin hướng dẫn quy trình ủ và giá chế phẩm cho 50 ha lúa.",
            "Ủ rơm rạ làm phân bón cho vùng lúa hữu cơ.",
            "usage_licence",
            None,
        ),
    ];
    let seller_of = |l: &technologies::Listing| -> Result<&Party, ApiError> {
        parties.iter().find(|p| p.org == l.organization_id).ok_or_else(ApiError::internal)
    };
    let mut enquiry_ids = Vec::new();
    for (key, from, message, intended_use, form, answer) in enquiries {
        let l = listing(key)?;
        let buyer = party(from)?;
        let inquiry = inquiries::create(
            conn,
            &l,
            buyer.user,
            &NewInquiry {
                from_organization_id: buyer.org,
                message,
                intended_use,
                transfer_form: form,
                budget: None,
            },
        )?;
        if let Some(answer) = answer {
            let seller = seller_of(&l)?;
            inquiries::add_message(conn, &inquiry, seller.org, seller.user, answer)?;
        }
        enquiry_ids.push(inquiry.id);
    }

    // A deal in every stage: four from enquiries, four brokered.
    let vnd = |amount: i64| Terms {
        transfer_form: TransferForm::UsageLicence,
        exclusive: Some(false),
        territory: Some("Việt Nam".into()),
        term_months: Some(60),
        sublicensing: Some(false),
        price: Some(amount),
        currency: Some("VND".into()),
        payment_schedule: Some("30% khi ký hợp đồng, 70% khi nghiệm thu bàn giao".into()),
        broker_fee: None,
    };
    let from_enquiry = |conn: &mut DbConn, n: usize, terms: &Terms| -> Result<Deal, ApiError> {
        let inquiry = inquiries::get(conn, enquiry_ids[n])?;
        let buyer = parties.iter().find(|p| p.org == inquiry.from_organization_id);
        let buyer = buyer.ok_or_else(ApiError::internal)?;
        let deal = deals::create(
            conn,
            &NewDeal {
                technology_id: inquiry.technology_id,
                buyer: inquiry.from_organization_id,
                seller: inquiry.to_organization_id,
                broker: None,
                inquiry_id: Some(inquiry.id),
                demand_id: None,
                proposal_id: None,
                terms,
                accepted_side: Some(inquiry.from_organization_id),
            },
            By { user: buyer.user, organization: Some(buyer.org) },
        )?;
        let seller = parties.iter().find(|p| p.org == inquiry.to_organization_id);
        let seller = seller.ok_or_else(ApiError::internal)?;
        let sides = Sides { buyer: false, seller: true };
        Ok(deals::accept(conn, &deal, Stage::Open, sides, by(seller))?)
    };
    let broker = party("trung-tam")?;
    let brokered = |conn: &mut DbConn,
                    key: &str,
                    buyer: &str,
                    terms: &Terms,
                    accepted: bool|
     -> Result<Deal, ApiError> {
        let l = listing(key)?;
        let (buyer, seller) = (party(buyer)?, seller_of(&l)?);
        let deal = deals::create(
            conn,
            &NewDeal {
                technology_id: l.id,
                buyer: buyer.org,
                seller: seller.org,
                broker: Some(broker.org),
                inquiry_id: None,
                demand_id: None,
                proposal_id: None,
                terms,
                accepted_side: None,
            },
            by(broker),
        )?;
        if !accepted {
            return Ok(deal);
        }
        let deal = deals::accept(
            conn,
            &deal,
            Stage::Open,
            Sides { buyer: true, seller: false },
            by(buyer),
        )?;
        Ok(deals::accept(
            conn,
            &deal,
            Stage::Open,
            Sides { buyer: false, seller: true },
            by(seller),
        )?)
    };

    // 1. Completed: wastewater treatment for the pig farm.
    let deal = from_enquiry(conn, 0, &vnd(880 * M))?;
    let (buyer, seller) = (party("cty-channuoi")?, party("dh-kt")?);
    let deal =
        step(conn, deal, Stage::Negotiating, seller, Some("Đã khảo sát hiện trạng trang trại."))?;
    let deal = step(conn, deal, Stage::Contracting, seller, None)?;
    let deal = ready_to_sign(conn, deal, buyer, seller)?;
    let deal = step(conn, deal, Stage::Signed, seller, None)?;
    let deal = step(conn, deal, Stage::Delivering, seller, Some("Khởi công lắp đặt bể biogas."))?;
    finish(conn, deal, buyer, 850 * M)?;

    // 2. Valuation: the pharmaceutical licence waits for an appraisal.
    let deal = from_enquiry(conn, 1, &vnd(1_200 * M))?;
    let (buyer, seller) = (party("cty-duoc")?, party("vien-duoc")?);
    let deal = step(conn, deal, Stage::Negotiating, seller, None)?;
    let valuation_deal = step(
        conn,
        deal,
        Stage::Valuation,
        buyer,
        Some("Cần định giá trước khi chốt giá chuyển giao."),
    )?;

    // 3. Contracting: the dryer, checklist half done.
    let mut terms = vnd(420 * M);
    terms.transfer_form = TransferForm::OwnershipAssignment;
    (terms.exclusive, terms.territory, terms.term_months, terms.sublicensing) =
        (None, None, None, None);
    let deal = from_enquiry(conn, 2, &terms)?;
    let (buyer, seller) = (party("htx")?, party("dh-nl")?);
    let deal = step(conn, deal, Stage::Negotiating, seller, None)?;
    let mut deal = step(conn, deal, Stage::Contracting, buyer, None)?;
    for item in &ChecklistItem::ALL[..5] {
        deal = deals::tick(conn, &deal, Stage::Contracting, *item, true, None, by(seller))?;
    }

    // 4. Open: the broker proposed the rice variety to the cooperative; nobody accepted yet.
    let mut terms = vnd(600 * M);
    terms.broker_fee = Some(30 * M);
    brokered(conn, "giong-lua", "htx", &terms, false)?;

    // 5. Negotiating: the microbial product for the pig farm, brokered.
    let mut terms = vnd(200 * M);
    terms.broker_fee = Some(10 * M);
    let deal = brokered(conn, "che-pham-vi-sinh", "cty-channuoi", &terms, true)?;
    step(conn, deal, Stage::Negotiating, broker, Some("Hai bên hẹn thử nghiệm trên 5 ha."))?;

    // 6. Cancelled: the diagnostic kit, brokered, in US dollars as the listing asks.
    let mut terms = vnd(4_500_000);
    (terms.currency, terms.broker_fee) = (Some("USD".into()), Some(225_000));
    let deal = brokered(conn, "kit-chan-doan", "cty-duoc", &terms, true)?;
    let deal = step(conn, deal, Stage::Negotiating, broker, None)?;
    let facts =
        deals::facts(conn, &deal, Some("Bên mua chưa đủ điều kiện sản xuất sinh phẩm.".into()))?;
    check(&deal, Stage::Cancelled, &facts)?;
    deals::transition(
        conn,
        &deal,
        &Move {
            to: Stage::Cancelled,
            note: None,
            reason: Some("Bên mua chưa đủ điều kiện sản xuất sinh phẩm."),
            final_price: None,
        },
        by(broker),
    )?;

    // 7. Delivering: the traceability platform, brokered.
    let mut terms = vnd(300 * M);
    terms.broker_fee = Some(15 * M);
    let deal = brokered(conn, "phan-mem-truy-xuat", "cty-phanmem", &terms, true)?;
    let (buyer, seller) = (party("cty-phanmem")?, party("dh-kt")?);
    let deal = step(conn, deal, Stage::Negotiating, broker, None)?;
    let deal = step(conn, deal, Stage::Contracting, broker, None)?;
    let deal = ready_to_sign(conn, deal, buyer, seller)?;
    let deal = step(conn, deal, Stage::Signed, broker, None)?;
    step(conn, deal, Stage::Delivering, seller, Some("Đã cài đặt bản dùng thử cho 3 hợp tác xã."))?;

    // 8. Signed: the irrigation system for the software company; delivery not started.
    let deal = from_enquiry(conn, 3, &vnd(180 * M))?;
    let (buyer, seller) = (party("cty-phanmem")?, party("dh-kt")?);
    let deal = step(conn, deal, Stage::Negotiating, seller, None)?;
    let deal = step(conn, deal, Stage::Contracting, buyer, None)?;
    let deal = ready_to_sign(conn, deal, buyer, seller)?;
    step(conn, deal, Stage::Signed, seller, Some("Hợp đồng số 18/2026/HĐCGCN đã ký."))?;

    // Valuation requests: one open to appraisers, one in progress for deal 2, one completed.
    let appraiser = party("dinh-gia")?;
    let date = |months: u32| today.checked_add_months(chrono::Months::new(months)).unwrap_or(today);
    let inputs = |budget: i64, revenue: &[i64]| {
        serde_json::json!({
            "currency": "VND",
            "budget_spent": budget,
            "rd_costs": [],
            "revenue_forecasts": revenue,
            "comparables_known": [],
        })
        .to_string()
    };
    let owner = party("vien-nn")?;
    valuations::create(
        conn,
        &NewRequest {
            technology_id: listing("giong-lua")?.id,
            requester_organization_id: owner.org,
            requested_by: owner.user,
            deal_id: None,
            purpose: "state_result_assignment",
            rights_kind: "ownership",
            rights_exclusive: None,
            rights_territory: None,
            rights_term_months: None,
            valuation_date: today.format("%Y-%m-%d").to_string(),
            preferred_method: "cost",
            inputs: inputs(2_350 * M, &[]),
            deadline: Some(date(2).format("%Y-%m-%d").to_string()),
        },
    )?;
    let buyer = party("cty-duoc")?;
    let request = valuations::create(
        conn,
        &NewRequest {
            technology_id: valuation_deal.technology_id,
            requester_organization_id: buyer.org,
            requested_by: buyer.user,
            deal_id: Some(valuation_deal.id),
            purpose: "licence",
            rights_kind: "usage",
            rights_exclusive: Some(false),
            rights_territory: Some("Việt Nam".into()),
            rights_term_months: Some(60),
            valuation_date: today.format("%Y-%m-%d").to_string(),
            preferred_method: "income",
            inputs: inputs(4_800 * M, &[2_000 * M, 3_500 * M, 5_000 * M, 6_000 * M, 6_500 * M]),
            deadline: Some(date(1).format("%Y-%m-%d").to_string()),
        },
    )?;
    let request = valuations::transition(
        conn,
        &request,
        VStatus::Assigned,
        moderator,
        Some("Giao cho đơn vị thẩm định giá có chuyên môn dược."),
        Change::Appraiser(appraiser.org),
    )?;
    valuations::transition(
        conn,
        &request,
        VStatus::InProgress,
        appraiser.user,
        None,
        Change::None,
    )?;
    let owner = party("dh-nl")?;
    let request = valuations::create(
        conn,
        &NewRequest {
            technology_id: listing("vac-xin-ga")?.id,
            requester_organization_id: owner.org,
            requested_by: owner.user,
            deal_id: None,
            purpose: "sale",
            rights_kind: "ownership",
            rights_exclusive: None,
            rights_territory: None,
            rights_term_months: None,
            valuation_date: today.format("%Y-%m-%d").to_string(),
            preferred_method: "mixed",
            inputs: inputs(1_650 * M, &[400 * M, 900 * M, 1_400 * M]),
            deadline: None,
        },
    )?;
    let request = valuations::transition(
        conn,
        &request,
        VStatus::Assigned,
        appraiser.user,
        None,
        Change::Appraiser(appraiser.org),
    )?;
    let request = valuations::transition(
        conn,
        &request,
        VStatus::InProgress,
        appraiser.user,
        None,
        Change::None,
    )?;
    valuations::transition(
        conn,
        &request,
        VStatus::Completed,
        appraiser.user,
        Some("Đã gửi báo cáo thẩm định."),
        Change::Complete(ValuationOutcome {
            value_point: Some(860 * M),
            value_low: Some(720 * M),
            value_high: Some(980 * M),
            currency: "VND".into(),
            methods: vec!["cost".into(), "income".into()],
            assumptions: "Chi phí tái tạo theo dự toán đề tài, hao mòn 15%; dòng tiền 5 năm, chiết khấu 12%/năm.".into(),
            report_summary: "Giá trị quyền sở hữu khoảng 860 triệu đồng (720–980 triệu), kết hợp phương pháp chi phí và thu nhập.".into(),
            report_url: None,
        }),
    )?;
    Ok(())
}

fn by(p: &Party) -> By {
    By { user: p.user, organization: Some(p.org) }
}

/// The state machine's verdict, as the API would give it; refusing here is a bug in this file.
fn check(deal: &Deal, to: Stage, facts: &machine::Facts) -> Result<(), ApiError> {
    machine::check(deal.stage()?, to, facts).map_err(|e| {
        tracing::error!(deal = %deal.id, error = ?e, "demo deal transition refused");
        ApiError::internal()
    })
}

fn step(
    conn: &mut DbConn,
    deal: Deal,
    to: Stage,
    actor: &Party,
    note: Option<&str>,
) -> Result<Deal, ApiError> {
    let facts = deals::facts(conn, &deal, None)?;
    check(&deal, to, &facts)?;
    Ok(deals::transition(
        conn,
        &deal,
        &Move { to, note, reason: None, final_price: None },
        by(actor),
    )?)
}

/// Ticks the whole Art. 23 checklist and has both sides confirm signing.
fn ready_to_sign(
    conn: &mut DbConn,
    mut deal: Deal,
    buyer: &Party,
    seller: &Party,
) -> Result<Deal, ApiError> {
    for item in ChecklistItem::ALL {
        deal = deals::tick(conn, &deal, Stage::Contracting, item, true, None, by(seller))?;
    }
    let deal = deals::confirm_signing(
        conn,
        &deal,
        Stage::Contracting,
        Sides { buyer: true, seller: false },
        by(buyer),
    )?;
    deals::confirm_signing(
        conn,
        &deal,
        Stage::Contracting,
        Sides { buyer: false, seller: true },
        by(seller),
    )
    .map_err(ApiError::from)
}

fn finish(
    conn: &mut DbConn,
    deal: Deal,
    buyer: &Party,
    final_price: i64,
) -> Result<Deal, ApiError> {
    let facts = deals::facts(conn, &deal, None)?;
    check(&deal, Stage::Completed, &facts)?;
    deals::transition(
        conn,
        &deal,
        &Move {
            to: Stage::Completed,
            note: Some("Nghiệm thu hệ thống đạt QCVN 62-MT:2016/BTNMT."),
            reason: None,
            final_price: Some(final_price),
        },
        by(buyer),
    )
    .map_err(ApiError::from)
}
