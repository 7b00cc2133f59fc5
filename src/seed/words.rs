//! Vietnamese vocabulary for synthetic listings and demands (shared with the search
//! benchmark example): titles, summaries and descriptions built from realistic phrases of
//! the priority sectors, so full-text search has real words to match.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::domain::lang::Lang;
use crate::domain::listing::{
    ContactVisibility, Content, FundingLevel, IpRecord, IpStatus, Kind, Price, PriceBasis,
    Research, RightsStatus, TransferOffer,
};

pub const SUBJECTS: &[&str] = &[
    "Công nghệ",
    "Quy trình",
    "Thiết bị",
    "Hệ thống",
    "Chế phẩm",
    "Giải pháp",
    "Phần mềm",
    "Máy",
    "Vật liệu",
    "Giống",
    "Mô hình",
    "Dây chuyền",
];
pub const OBJECTS: &[&str] = &[
    "xử lý nước thải",
    "sấy nông sản",
    "nuôi cấy mô",
    "sinh học",
    "phân bón hữu cơ",
    "điều trị bệnh",
    "tưới tiết kiệm",
    "bảo quản sau thu hoạch",
    "chăn nuôi lợn",
    "nuôi trồng thủy sản",
    "năng lượng mặt trời",
    "quản lý trang trại",
    "vắc xin thú y",
    "chẩn đoán hình ảnh",
    "in 3D",
    "cảm biến IoT",
    "bê tông nhẹ",
    "vật liệu nano",
    "dược liệu",
    "chế biến gỗ",
    "xử lý rác thải",
    "lọc nước sạch",
    "nhân giống lan",
    "phòng trừ sâu bệnh",
    "chiết xuất tinh dầu",
    "gạch không nung",
    "nông nghiệp hữu cơ",
    "nuôi tôm",
    "chế biến cà phê",
    "điện tử công suất",
];
pub const QUALIFIERS: &[&str] = &[
    "quy mô nhỏ",
    "tiết kiệm năng lượng",
    "thân thiện môi trường",
    "cho hợp tác xã",
    "tự động",
    "chi phí thấp",
    "công suất lớn",
    "đạt chuẩn VietGAP",
    "dùng vi sinh vật bản địa",
    "cho vùng nhiễm mặn",
    "điều khiển từ xa",
    "ứng dụng trí tuệ nhân tạo",
];
pub const SENTENCES: &[&str] = &[
    "Kết quả thử nghiệm tại {p} cho thấy hiệu quả cao.",
    "Sản phẩm đã được chuyển giao cho nhiều doanh nghiệp và hợp tác xã.",
    "Giải pháp giúp giảm chi phí vận hành và tăng năng suất lao động.",
    "Công nghệ phù hợp với điều kiện sản xuất của các tỉnh miền Trung.",
    "Quy trình gồm các bước chuẩn bị nguyên liệu, xử lý, kiểm tra chất lượng và đóng gói.",
    "Thiết bị vận hành ổn định, dễ bảo trì, linh kiện sẵn có trong nước.",
    "Nhóm nghiên cứu hỗ trợ đào tạo và chuyển giao kỹ thuật sau bán hàng.",
    "Đề tài được nghiệm thu xuất sắc và đã công bố trên tạp chí chuyên ngành.",
    "Hiệu suất tăng khoảng {n} phần trăm so với phương pháp truyền thống.",
    "Có thể mở rộng quy mô để phục vụ sản xuất hàng hóa.",
    "Sản phẩm an toàn cho người sử dụng và môi trường xung quanh.",
    "Chi phí đầu tư ban đầu thấp, thời gian hoàn vốn khoảng {n} tháng.",
];
pub const FILLER: &[&str] = &[
    "mới",
    "hiện đại",
    "hiệu quả",
    "bền vững",
    "an toàn",
    "chất lượng",
    "ổn định",
    "linh hoạt",
    "tiên tiến",
    "đơn giản",
    "kinh tế",
    "thực tiễn",
    "phổ biến",
    "chuyên dụng",
    "đa năng",
    "địa phương",
    "khu vực",
    "nông thôn",
    "đô thị",
    "miền núi",
    "ven biển",
    "đồng bằng",
];
pub const PROVINCES: &[&str] =
    &["thanh-hoa", "nghe-an", "ha-noi", "ho-chi-minh", "can-tho", "da-nang", "hue", "lam-dong"];
pub const SECTORS: &[&str] = &[
    "1.2", "1.6", "2.2", "2.3", "2.5", "2.7", "2.8", "2.9", "3.2", "3.4", "4.1", "4.2", "4.3",
    "4.4",
];
pub const FORMS: &[&str] = &[
    "ownership_assignment",
    "usage_licence",
    "capital_contribution",
    "joint_venture",
    "technical_services",
    "machinery_with_technology",
];
pub const IP_TYPES: &[&str] = &[
    "patent",
    "utility_solution",
    "industrial_design",
    "trade_secret",
    "copyright_software",
    "plant_variety",
];

pub fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

pub fn sentence(rng: &mut StdRng) -> String {
    pick(rng, SENTENCES)
        .replace("{p}", pick(rng, &["Thanh Hóa", "Nghệ An", "Cần Thơ", "Lâm Đồng", "Hà Nội"]))
        .replace("{n}", &rng.gen_range(5..60).to_string())
}

pub fn listing_content(rng: &mut StdRng) -> Content {
    let object = pick(rng, OBJECTS);
    let title = format!("{} {} {}", pick(rng, SUBJECTS), object, pick(rng, QUALIFIERS));
    let summary = format!(
        "{} {} {}. {}",
        pick(rng, SUBJECTS),
        pick(rng, OBJECTS),
        pick(rng, FILLER),
        sentence(rng)
    );
    let mut description = String::new();
    for _ in 0..rng.gen_range(4..9) {
        description.push_str(&sentence(rng));
        description.push(' ');
        for _ in 0..rng.gen_range(3..10) {
            description.push_str(pick(rng, FILLER));
            description.push(' ');
        }
        if rng.gen_bool(0.3) {
            description.push_str(&format!("Ứng dụng trong {}. ", pick(rng, OBJECTS)));
        }
    }
    let kind = match rng.gen_range(0..10) {
        0..=5 => Kind::Technology,
        6..=7 => Kind::Equipment,
        _ => Kind::ResearchResult,
    };
    let sector = pick(rng, SECTORS).to_owned();
    let priced = rng.gen_bool(0.7);
    let min = rng.gen_range(10..5_000) * 1_000_000;
    Content {
        kind,
        language: Lang::Vi,
        title,
        summary,
        description: description.trim().to_owned(),
        advantages: rng
            .gen_bool(0.5)
            .then(|| format!("{} và {}.", pick(rng, QUALIFIERS), pick(rng, QUALIFIERS))),
        applications: rng.gen_bool(0.5).then(|| format!("Ứng dụng cho {}.", pick(rng, OBJECTS))),
        sectors: vec![sector],
        keywords: vec![object.to_owned(), pick(rng, FILLER).to_owned()],
        trl: Some(rng.gen_range(3..=9)),
        ip_records: if rng.gen_bool(0.6) {
            vec![IpRecord {
                ip_type: pick(rng, IP_TYPES).to_owned(),
                number: Some(format!("1-{:07}", rng.gen_range(0..9_999_999))),
                status: IpStatus::Granted,
                filing_date: None,
                grant_date: None,
                territory: Some("Việt Nam".into()),
            }]
        } else {
            Vec::new()
        },
        transfer_forms: vec![TransferOffer {
            form: pick(rng, FORMS).to_owned(),
            exclusive: None,
            sublicensing: None,
            territory: None,
            term_months: None,
        }],
        price: priced.then(|| Price {
            min: Some(min),
            max: Some(min * 2),
            currency: "VND".into(),
            basis: PriceBasis::Indicative,
        }),
        province: pick(rng, PROVINCES).to_owned(),
        contact_visibility: ContactVisibility::Public,
        research: (kind == Kind::ResearchResult).then(|| Research {
            funding_level: *[
                FundingLevel::National,
                FundingLevel::Provincial,
                FundingLevel::Ministerial,
            ]
            .choose(rng)
            .unwrap_or(&FundingLevel::Provincial),
            programme: None,
            task_code: format!("ĐT.{}/{}", rng.gen_range(1..99), rng.gen_range(15..25)),
            host_organization: "Viện nghiên cứu".into(),
            managing_agency: "Sở KH&CN".into(),
            budget_spent: None,
            completion_year: Some(rng.gen_range(2015..2026)),
            rights_status: RightsStatus::StateOwned,
            assignee: None,
        }),
    }
    .normalized()
}

const NEEDS: &[&str] = &[
    "Cần công nghệ",
    "Tìm giải pháp",
    "Đặt hàng nghiên cứu",
    "Cần chuyển giao quy trình",
    "Tìm đối tác cung cấp thiết bị",
];
const PROBLEMS: &[&str] = &[
    "Doanh nghiệp đang gặp khó khăn về chi phí sản xuất cao và chất lượng sản phẩm chưa ổn định.",
    "Hợp tác xã cần nâng cao giá trị nông sản và đáp ứng tiêu chuẩn xuất khẩu.",
    "Nhà máy phải đáp ứng quy chuẩn môi trường mới trước cuối năm.",
    "Cơ sở sản xuất muốn tự động hóa khâu kiểm tra chất lượng.",
    "Vùng nguyên liệu bị ảnh hưởng bởi xâm nhập mặn và sâu bệnh.",
    "Bệnh viện tuyến tỉnh cần giải pháp chẩn đoán nhanh với chi phí hợp lý.",
];

/// A synthetic demand: what an enterprise asks for, in the vocabulary of the listings so
/// that matching finds candidates.
pub fn demand_content(rng: &mut StdRng) -> crate::domain::demand::DemandContent {
    use crate::domain::demand::{Budget, DemandContent};
    let object = pick(rng, OBJECTS);
    let max = rng.gen_range(50..3_000) * 1_000_000;
    DemandContent {
        language: Lang::Vi,
        title: format!("{} {} {}", pick(rng, NEEDS), object, pick(rng, QUALIFIERS)),
        problem: format!("{} {}", pick(rng, PROBLEMS), sentence(rng)),
        requirements: rng
            .gen_bool(0.6)
            .then(|| format!("Yêu cầu {} và {}.", pick(rng, QUALIFIERS), pick(rng, QUALIFIERS))),
        sectors: vec![pick(rng, SECTORS).to_owned()],
        keywords: vec![object.to_owned(), pick(rng, FILLER).to_owned()],
        trl_min: Some(rng.gen_range(4..=8)),
        budget: rng.gen_bool(0.8).then(|| Budget {
            min: Some(max / 4),
            max: Some(max),
            currency: "VND".into(),
        }),
        transfer_forms: vec![pick(rng, FORMS).to_owned()],
        province: pick(rng, PROVINCES).to_owned(),
        deadline: None,
        hide_organization: rng.gen_bool(0.1),
    }
    .normalized()
}
