//! Reference data: public, cacheable, labelled in the caller's language.

use actix_web::{HttpResponse, get, http::header};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::cache::Policy;
use crate::api::extract::{LangParam, RequestLang};
use crate::domain::taxonomy::{self, ProvinceKind, Term};

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelledCode {
    #[schema(example = "usage_licence")]
    pub code: String,
    #[schema(example = "Chuyển giao quyền sử dụng công nghệ (li-xăng)")]
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SectorFieldDto {
    #[schema(value_type = crate::api::codes::SectorCode, example = "4")]
    pub code: String,
    #[schema(example = "Khoa học nông nghiệp")]
    pub label: String,
    pub subfields: Vec<LabelledCode>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProvinceKindDto {
    /// Centrally-run city (thành phố trực thuộc trung ương).
    City,
    Province,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvinceDto {
    #[schema(value_type = crate::api::codes::ProvinceCode, example = "thanh-hoa")]
    pub code: String,
    #[schema(example = "Thanh Hóa")]
    pub name: String,
    pub kind: ProvinceKindDto,
    #[schema(example = "north_central")]
    pub region: String,
    /// Former province-level units merged into this one in 2025; older addresses use them.
    pub former_names: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrlLevelDto {
    #[schema(example = 4, minimum = 1, maximum = 9)]
    pub level: u8,
    #[schema(example = "Công nghệ được kiểm chứng trong phòng thí nghiệm")]
    pub label: String,
}

/// Changes only with a release: a day in any cache; the `conditional` middleware adds the
/// ETag (over the body) that revalidates it after.
fn cached(body: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, Policy::Static.cache_control()))
        .insert_header((header::VARY, crate::api::cache::VARY_LANG))
        .json(body)
}

fn labelled(terms: &[Term], lang: RequestLang) -> Vec<LabelledCode> {
    terms
        .iter()
        .map(|(code, vi, en)| LabelledCode {
            code: (*code).into(),
            label: lang.0.pick(vi, en).into(),
        })
        .collect()
}

/// Sectors: the OECD Fields of Research and Development and their sub-fields.
#[utoipa::path(
    tag = "taxonomy",
    params(LangParam),
    responses((status = 200, description = "The six fields with their sub-fields", body = Vec<SectorFieldDto>))
)]
#[get("/taxonomy/sectors")]
pub async fn sectors(lang: RequestLang) -> HttpResponse {
    let body: Vec<SectorFieldDto> = taxonomy::SECTORS
        .iter()
        .map(|s| SectorFieldDto {
            code: s.field.0.into(),
            label: lang.0.pick(s.field.1, s.field.2).into(),
            subfields: labelled(s.subfields, lang),
        })
        .collect();
    cached(body)
}

/// The 34 province-level units since the 2025 reorganisation.
#[utoipa::path(
    tag = "taxonomy",
    params(LangParam),
    responses((status = 200, description = "Provinces and centrally-run cities", body = Vec<ProvinceDto>))
)]
#[get("/taxonomy/provinces")]
pub async fn provinces(lang: RequestLang) -> HttpResponse {
    let body: Vec<ProvinceDto> = taxonomy::PROVINCES
        .iter()
        .map(|p| ProvinceDto {
            code: p.code.into(),
            name: lang.0.pick(p.name_vi, p.name_en).into(),
            kind: match p.kind {
                ProvinceKind::City => ProvinceKindDto::City,
                ProvinceKind::Province => ProvinceKindDto::Province,
            },
            region: p.region.code().into(),
            former_names: p.former.iter().map(|n| (*n).into()).collect(),
        })
        .collect();
    cached(body)
}

/// Technology readiness levels 1–9.
#[utoipa::path(
    tag = "taxonomy",
    params(LangParam),
    responses((status = 200, description = "TRL 1 to 9", body = Vec<TrlLevelDto>))
)]
#[get("/taxonomy/trl-levels")]
pub async fn trl_levels(lang: RequestLang) -> HttpResponse {
    let body: Vec<TrlLevelDto> = taxonomy::TRL_LEVELS
        .iter()
        .map(|(level, vi, en)| TrlLevelDto { level: *level, label: lang.0.pick(vi, en).into() })
        .collect();
    cached(body)
}

/// Ways a technology changes hands (Law on Technology Transfer 07/2017/QH14).
#[utoipa::path(
    tag = "taxonomy",
    params(LangParam),
    responses((status = 200, description = "Transfer forms", body = Vec<LabelledCode>))
)]
#[get("/taxonomy/transfer-forms")]
pub async fn transfer_forms(lang: RequestLang) -> HttpResponse {
    cached(labelled(taxonomy::TRANSFER_FORMS, lang))
}

/// Kinds of intellectual property a listing can carry.
#[utoipa::path(
    tag = "taxonomy",
    params(LangParam),
    responses((status = 200, description = "IP types", body = Vec<LabelledCode>))
)]
#[get("/taxonomy/ip-types")]
pub async fn ip_types(lang: RequestLang) -> HttpResponse {
    cached(labelled(taxonomy::IP_TYPES, lang))
}

/// The taxonomy routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(sectors)
        .service(provinces)
        .service(trl_levels)
        .service(transfer_forms)
        .service(ip_types);
}
