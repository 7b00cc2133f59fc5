//! Reference-data codes as closed sets in the OpenAPI document: the enum of each comes from
//! the same table that validates it (`domain::taxonomy`, `domain::listing::CURRENCIES`), so
//! a generated client knows every province, sector, transfer form, IP type and currency.
//! The OpenAPI finishing pass (`openapi.rs`) gives every field and query parameter of these names its schema.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::{listing, taxonomy};

macro_rules! code_schema {
    ($name:ident, $description:expr, $values:expr) => {
        #[doc = $description]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some($values))
                    .description(Some($description))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

code_schema!(
    ProvinceCode,
    "A province-level unit (after the 2025 merger), as listed by `/taxonomy/provinces`.",
    taxonomy::PROVINCES.iter().map(|p| p.code)
);
code_schema!(
    SectorCode,
    "A field or sub-field of science and technology, as listed by `/taxonomy/sectors`.",
    taxonomy::SECTORS
        .iter()
        .flat_map(|s| { std::iter::once(s.field.0).chain(s.subfields.iter().map(|sub| sub.0)) })
);
code_schema!(
    TransferFormCode,
    "A way a technology can change hands (Law on Technology Transfer), as listed by \
     `/taxonomy/transfer-forms`.",
    taxonomy::TRANSFER_FORMS.iter().map(|t| t.0)
);
code_schema!(
    IpTypeCode,
    "A kind of intellectual-property title, as listed by `/taxonomy/ip-types`.",
    taxonomy::IP_TYPES.iter().map(|t| t.0)
);
code_schema!(
    CurrencyCode,
    "An ISO 4217 currency accepted for prices.",
    listing::CURRENCIES.iter().map(|c| c.0)
);

/// Registers the code schemas.
pub fn register(components: &mut utoipa::openapi::Components) {
    for (name, schema) in [
        ("ProvinceCode", ProvinceCode::schema()),
        ("SectorCode", SectorCode::schema()),
        ("TransferFormCode", TransferFormCode::schema()),
        ("IpTypeCode", IpTypeCode::schema()),
        ("CurrencyCode", CurrencyCode::schema()),
    ] {
        components.schemas.insert(name.to_owned(), schema);
    }
}

/// The code schema a property or query parameter of this name holds, if any.
pub fn schema_for(name: &str) -> Option<&'static str> {
    Some(match name {
        "province" | "provinces" => "ProvinceCode",
        "sector" | "sectors" => "SectorCode",
        "transfer_form" | "transfer_forms" | "form" => "TransferFormCode",
        "ip_type" => "IpTypeCode",
        "currency" => "CurrencyCode",
        _ => return None,
    })
}
