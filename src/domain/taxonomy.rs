//! Reference data of the exchange, in Vietnamese and English: sectors (OECD FORD, which
//! Vietnam's classification of S&T fields follows), the 34 province-level units since 2025,
//! TRL levels, transfer forms (Law on Technology Transfer 07/2017/QH14) and IP types.

/// A labelled code: `(code, vi, en)`.
pub type Term = (&'static str, &'static str, &'static str);

pub struct SectorField {
    pub field: Term,
    pub subfields: &'static [Term],
}

pub const SECTORS: &[SectorField] = &[
    SectorField {
        field: ("1", "Khoa học tự nhiên", "Natural sciences"),
        subfields: &[
            ("1.1", "Toán học và thống kê", "Mathematics"),
            ("1.2", "Khoa học máy tính và thông tin", "Computer and information sciences"),
            ("1.3", "Vật lý", "Physical sciences"),
            ("1.4", "Hóa học", "Chemical sciences"),
            (
                "1.5",
                "Khoa học trái đất và môi trường liên quan",
                "Earth and related environmental sciences",
            ),
            ("1.6", "Sinh học", "Biological sciences"),
            ("1.7", "Khoa học tự nhiên khác", "Other natural sciences"),
        ],
    },
    SectorField {
        field: ("2", "Khoa học kỹ thuật và công nghệ", "Engineering and technology"),
        subfields: &[
            ("2.1", "Kỹ thuật dân dụng", "Civil engineering"),
            (
                "2.2",
                "Kỹ thuật điện, điện tử, kỹ thuật thông tin",
                "Electrical, electronic and information engineering",
            ),
            ("2.3", "Kỹ thuật cơ khí", "Mechanical engineering"),
            ("2.4", "Kỹ thuật hóa học", "Chemical engineering"),
            ("2.5", "Kỹ thuật vật liệu và luyện kim", "Materials engineering"),
            ("2.6", "Kỹ thuật y học", "Medical engineering"),
            ("2.7", "Kỹ thuật môi trường", "Environmental engineering"),
            ("2.8", "Công nghệ sinh học môi trường", "Environmental biotechnology"),
            ("2.9", "Công nghệ sinh học công nghiệp", "Industrial biotechnology"),
            ("2.10", "Công nghệ nano", "Nanotechnology"),
            ("2.11", "Kỹ thuật và công nghệ khác", "Other engineering and technologies"),
        ],
    },
    SectorField {
        field: ("3", "Khoa học y, dược", "Medical and health sciences"),
        subfields: &[
            ("3.1", "Y học cơ sở", "Basic medicine"),
            ("3.2", "Y học lâm sàng", "Clinical medicine"),
            ("3.3", "Khoa học sức khỏe", "Health sciences"),
            ("3.4", "Công nghệ sinh học trong y học", "Medical biotechnology"),
            ("3.5", "Khoa học y, dược khác", "Other medical sciences"),
        ],
    },
    SectorField {
        field: ("4", "Khoa học nông nghiệp", "Agricultural and veterinary sciences"),
        subfields: &[
            ("4.1", "Nông nghiệp, lâm nghiệp và thủy sản", "Agriculture, forestry and fisheries"),
            ("4.2", "Chăn nuôi và sản xuất sữa", "Animal and dairy science"),
            ("4.3", "Thú y", "Veterinary science"),
            ("4.4", "Công nghệ sinh học nông nghiệp", "Agricultural biotechnology"),
            ("4.5", "Khoa học nông nghiệp khác", "Other agricultural sciences"),
        ],
    },
    SectorField {
        field: ("5", "Khoa học xã hội", "Social sciences"),
        subfields: &[
            ("5.1", "Tâm lý học và khoa học nhận thức", "Psychology and cognitive sciences"),
            ("5.2", "Kinh tế và kinh doanh", "Economics and business"),
            ("5.3", "Khoa học giáo dục", "Education"),
            ("5.4", "Xã hội học", "Sociology"),
            ("5.5", "Pháp luật", "Law"),
            ("5.6", "Khoa học chính trị", "Political science"),
            ("5.7", "Địa lý kinh tế và xã hội", "Social and economic geography"),
            ("5.8", "Thông tin đại chúng và truyền thông", "Media and communications"),
            ("5.9", "Khoa học xã hội khác", "Other social sciences"),
        ],
    },
    SectorField {
        field: ("6", "Khoa học nhân văn", "Humanities and the arts"),
        subfields: &[
            ("6.1", "Lịch sử và khảo cổ học", "History and archaeology"),
            ("6.2", "Ngôn ngữ học và văn học", "Languages and literature"),
            ("6.3", "Triết học, đạo đức học và tôn giáo", "Philosophy, ethics and religion"),
            ("6.4", "Nghệ thuật", "Arts"),
            ("6.5", "Khoa học nhân văn khác", "Other humanities"),
        ],
    },
];

/// The field a sector code belongs to ("4.1" → "4", "4" → "4"), if the code exists.
pub fn sector_field(code: &str) -> Option<&'static str> {
    SECTORS.iter().find_map(|s| {
        let field = s.field.0;
        (field == code || s.subfields.iter().any(|sub| sub.0 == code)).then_some(field)
    })
}

pub fn is_sector(code: &str) -> bool {
    sector_field(code).is_some()
}

/// A sector's (field or sub-field) label as `(vi, en)`, if the code exists.
pub fn sector_label(code: &str) -> Option<(&'static str, &'static str)> {
    SECTORS.iter().find_map(|s| {
        std::iter::once(&s.field).chain(s.subfields).find(|t| t.0 == code).map(|t| (t.1, t.2))
    })
}

/// A transfer form's label as `(vi, en)`, if the code exists.
pub fn transfer_form_label(code: &str) -> Option<(&'static str, &'static str)> {
    TRANSFER_FORMS.iter().find(|t| t.0 == code).map(|t| (t.1, t.2))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvinceKind {
    /// Thành phố trực thuộc trung ương.
    City,
    Province,
}

/// Socio-economic regions, used to score "same region" in matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    NorthernMidlandsAndMountains,
    RedRiverDelta,
    NorthCentral,
    SouthCentralCoast,
    CentralHighlands,
    Southeast,
    MekongDelta,
}

impl Region {
    pub fn code(self) -> &'static str {
        match self {
            Region::NorthernMidlandsAndMountains => "northern_midlands_mountains",
            Region::RedRiverDelta => "red_river_delta",
            Region::NorthCentral => "north_central",
            Region::SouthCentralCoast => "south_central_coast",
            Region::CentralHighlands => "central_highlands",
            Region::Southeast => "southeast",
            Region::MekongDelta => "mekong_delta",
        }
    }
}

pub struct Province {
    pub code: &'static str,
    pub name_vi: &'static str,
    pub name_en: &'static str,
    pub kind: ProvinceKind,
    pub region: Region,
    /// Former province-level units merged into this one by Resolution 202/2025/QH15.
    pub former: &'static [&'static str],
}

const fn p(
    code: &'static str,
    name_vi: &'static str,
    name_en: &'static str,
    kind: ProvinceKind,
    region: Region,
    former: &'static [&'static str],
) -> Province {
    Province { code, name_vi, name_en, kind, region, former }
}

use ProvinceKind::{City, Province as Prov};
use Region::*;

pub const PROVINCES: &[Province] = &[
    p("ha-noi", "Hà Nội", "Hanoi", City, RedRiverDelta, &[]),
    p("hai-phong", "Hải Phòng", "Hai Phong", City, RedRiverDelta, &["Hải Dương"]),
    p("quang-ninh", "Quảng Ninh", "Quang Ninh", Prov, RedRiverDelta, &[]),
    p("bac-ninh", "Bắc Ninh", "Bac Ninh", Prov, RedRiverDelta, &["Bắc Giang"]),
    p("hung-yen", "Hưng Yên", "Hung Yen", Prov, RedRiverDelta, &["Thái Bình"]),
    p("ninh-binh", "Ninh Bình", "Ninh Binh", Prov, RedRiverDelta, &["Hà Nam", "Nam Định"]),
    p("cao-bang", "Cao Bằng", "Cao Bang", Prov, NorthernMidlandsAndMountains, &[]),
    p("lang-son", "Lạng Sơn", "Lang Son", Prov, NorthernMidlandsAndMountains, &[]),
    p("lai-chau", "Lai Châu", "Lai Chau", Prov, NorthernMidlandsAndMountains, &[]),
    p("dien-bien", "Điện Biên", "Dien Bien", Prov, NorthernMidlandsAndMountains, &[]),
    p("son-la", "Sơn La", "Son La", Prov, NorthernMidlandsAndMountains, &[]),
    p(
        "tuyen-quang",
        "Tuyên Quang",
        "Tuyen Quang",
        Prov,
        NorthernMidlandsAndMountains,
        &["Hà Giang"],
    ),
    p("lao-cai", "Lào Cai", "Lao Cai", Prov, NorthernMidlandsAndMountains, &["Yên Bái"]),
    p(
        "thai-nguyen",
        "Thái Nguyên",
        "Thai Nguyen",
        Prov,
        NorthernMidlandsAndMountains,
        &["Bắc Kạn"],
    ),
    p(
        "phu-tho",
        "Phú Thọ",
        "Phu Tho",
        Prov,
        NorthernMidlandsAndMountains,
        &["Vĩnh Phúc", "Hòa Bình"],
    ),
    p("thanh-hoa", "Thanh Hóa", "Thanh Hoa", Prov, NorthCentral, &[]),
    p("nghe-an", "Nghệ An", "Nghe An", Prov, NorthCentral, &[]),
    p("ha-tinh", "Hà Tĩnh", "Ha Tinh", Prov, NorthCentral, &[]),
    p("quang-tri", "Quảng Trị", "Quang Tri", Prov, NorthCentral, &["Quảng Bình"]),
    p("hue", "Huế", "Hue", City, NorthCentral, &["Thừa Thiên Huế"]),
    p("da-nang", "Đà Nẵng", "Da Nang", City, SouthCentralCoast, &["Quảng Nam"]),
    p("quang-ngai", "Quảng Ngãi", "Quang Ngai", Prov, SouthCentralCoast, &["Kon Tum"]),
    p("khanh-hoa", "Khánh Hòa", "Khanh Hoa", Prov, SouthCentralCoast, &["Ninh Thuận"]),
    p("gia-lai", "Gia Lai", "Gia Lai", Prov, CentralHighlands, &["Bình Định"]),
    p("dak-lak", "Đắk Lắk", "Dak Lak", Prov, CentralHighlands, &["Phú Yên"]),
    p("lam-dong", "Lâm Đồng", "Lam Dong", Prov, CentralHighlands, &["Đắk Nông", "Bình Thuận"]),
    p(
        "ho-chi-minh",
        "TP Hồ Chí Minh",
        "Ho Chi Minh City",
        City,
        Southeast,
        &["Bình Dương", "Bà Rịa–Vũng Tàu"],
    ),
    p("dong-nai", "Đồng Nai", "Dong Nai", Prov, Southeast, &["Bình Phước"]),
    p("tay-ninh", "Tây Ninh", "Tay Ninh", Prov, Southeast, &["Long An"]),
    p("can-tho", "Cần Thơ", "Can Tho", City, MekongDelta, &["Sóc Trăng", "Hậu Giang"]),
    p("vinh-long", "Vĩnh Long", "Vinh Long", Prov, MekongDelta, &["Bến Tre", "Trà Vinh"]),
    p("dong-thap", "Đồng Tháp", "Dong Thap", Prov, MekongDelta, &["Tiền Giang"]),
    p("ca-mau", "Cà Mau", "Ca Mau", Prov, MekongDelta, &["Bạc Liêu"]),
    p("an-giang", "An Giang", "An Giang", Prov, MekongDelta, &["Kiên Giang"]),
];

pub fn province(code: &str) -> Option<&'static Province> {
    PROVINCES.iter().find(|p| p.code == code)
}

/// `(level, vi, en)` for TRL 1–9.
pub const TRL_LEVELS: &[(u8, &str, &str)] = &[
    (1, "Nguyên lý cơ bản được quan sát và công bố", "Basic principles observed and reported"),
    (
        2,
        "Hình thành khái niệm và ứng dụng công nghệ",
        "Technology concept and application formulated",
    ),
    (3, "Chứng minh khái niệm bằng phân tích và thực nghiệm", "Experimental proof of concept"),
    (
        4,
        "Công nghệ được kiểm chứng trong phòng thí nghiệm",
        "Technology validated in the laboratory",
    ),
    (
        5,
        "Công nghệ được kiểm chứng trong môi trường liên quan",
        "Technology validated in a relevant environment",
    ),
    (
        6,
        "Công nghệ được trình diễn trong môi trường liên quan",
        "Technology demonstrated in a relevant environment",
    ),
    (
        7,
        "Mẫu hệ thống được trình diễn trong môi trường vận hành",
        "System prototype demonstrated in an operational environment",
    ),
    (8, "Hệ thống hoàn chỉnh và được chứng nhận đạt yêu cầu", "System complete and qualified"),
    (
        9,
        "Hệ thống được chứng minh trong vận hành thực tế",
        "Actual system proven in operational environment",
    ),
];

pub const TRANSFER_FORMS: &[Term] = &[
    ("ownership_assignment", "Chuyển nhượng quyền sở hữu công nghệ", "Assignment of ownership"),
    ("usage_licence", "Chuyển giao quyền sử dụng công nghệ (li-xăng)", "Licence of usage rights"),
    ("capital_contribution", "Góp vốn bằng công nghệ", "Capital contribution in technology"),
    (
        "joint_venture",
        "Liên doanh, hợp tác nghiên cứu và phát triển",
        "Joint venture or R&D cooperation",
    ),
    (
        "technical_services",
        "Hỗ trợ kỹ thuật, dịch vụ kỹ thuật",
        "Technical assistance and services",
    ),
    (
        "machinery_with_technology",
        "Mua bán máy móc, thiết bị kèm công nghệ",
        "Machinery sold with its technology",
    ),
];

pub const IP_TYPES: &[Term] = &[
    ("patent", "Sáng chế", "Patent"),
    ("utility_solution", "Giải pháp hữu ích", "Utility solution"),
    ("industrial_design", "Kiểu dáng công nghiệp", "Industrial design"),
    ("trade_secret", "Bí mật kinh doanh", "Trade secret"),
    ("copyright_software", "Quyền tác giả, phần mềm", "Copyright or software"),
    ("plant_variety", "Giống cây trồng", "Plant variety"),
    ("none", "Không có", "None"),
];

pub fn is_term(terms: &[Term], code: &str) -> bool {
    terms.iter().any(|t| t.0 == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn thirty_four_provinces_six_cities_unique_codes() {
        assert_eq!(PROVINCES.len(), 34);
        assert_eq!(PROVINCES.iter().filter(|p| p.kind == ProvinceKind::City).count(), 6);
        let codes: HashSet<_> = PROVINCES.iter().map(|p| p.code).collect();
        assert_eq!(codes.len(), 34);
        // 63 units before the 2025 reorganisation: 34 survivors plus 29 merged away.
        let former: usize = PROVINCES.iter().map(|p| p.former.len()).sum();
        assert_eq!(34 + former - 1, 63, "Thừa Thiên Huế is a rename, not a merger");
    }

    #[test]
    fn sector_fields_resolve_subfields() {
        assert_eq!(SECTORS.len(), 6);
        assert_eq!(sector_field("4.1"), Some("4"));
        assert_eq!(sector_field("2.10"), Some("2"));
        assert_eq!(sector_field("3"), Some("3"));
        assert_eq!(sector_field("7"), None);
        assert_eq!(sector_field("1.8"), None);
        let subfields: usize = SECTORS.iter().map(|s| s.subfields.len()).sum();
        assert_eq!(subfields, 7 + 11 + 5 + 5 + 9 + 5);
    }

    #[test]
    fn trl_levels_are_one_to_nine() {
        let levels: Vec<u8> = TRL_LEVELS.iter().map(|t| t.0).collect();
        assert_eq!(levels, (1..=9).collect::<Vec<_>>());
    }
}
