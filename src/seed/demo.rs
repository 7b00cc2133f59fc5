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

use crate::api::validate::normalize_email;
use crate::auth::PlatformRole;
use crate::db::types::{Id, now};
use crate::db::{DbConn, dialect};
use crate::domain::deals::{self as machine, ChecklistItem, Stage};
use crate::domain::demand::{Budget, DemandContent};
use crate::domain::lang::Lang;
use crate::domain::listing::{
    self, ContactVisibility, Content, FundingLevel, IpRecord, IpStatus, Kind, Money, Price,
    PriceBasis, Research, RightsStatus, Status, TransferOffer,
};
use crate::domain::valuation_request::Status as VStatus;
use crate::error::ApiError;
use crate::search::Search;
use crate::search::matching::{notify_for_demand, notify_for_technology};
use crate::store::deals::{self, By, Deal, Move, NewDeal, Sides, Terms, TransferForm};
use crate::store::inquiries::{self, NewInquiry};
use crate::store::organizations::{self, Profile};
use crate::store::users::{self, NewUser};
use crate::store::valuations::{self, Change, NewRequest, Outcome as ValuationOutcome};
use crate::store::{demands, technologies};

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

struct OrgSpec {
    key: &'static str,
    email: &'static str,
    person: &'static str,
    name: &'static str,
    kind: &'static str,
    province: &'static str,
    sectors: &'static [&'static str],
    services: &'static [&'static str],
    description: &'static str,
    website: Option<&'static str>,
}

const ORGS: &[OrgSpec] = &[
    OrgSpec {
        key: "vien-nn",
        email: "vien.nongnghiep@demo.techx.vn",
        person: "TS. Lê Văn Hùng",
        name: "Viện Nông nghiệp Công nghệ cao Thanh Hóa",
        kind: "research_institute",
        province: "thanh-hoa",
        sectors: &["4.1", "4.4"],
        services: &[],
        description: "Nghiên cứu giống cây trồng, chế phẩm sinh học và quy trình canh tác hữu cơ cho vùng Bắc Trung Bộ.",
        website: Some("https://vien-nn.demo.techx.vn"),
    },
    OrgSpec {
        key: "vien-duoc",
        email: "vien.duoclieu@demo.techx.vn",
        person: "PGS.TS. Nguyễn Thị Mai",
        name: "Viện Dược liệu Tây Nguyên",
        kind: "research_institute",
        province: "lam-dong",
        sectors: &["3.4", "1.6"],
        services: &[],
        description: "Bảo tồn, nhân giống và chiết xuất hoạt chất từ dược liệu vùng Tây Nguyên.",
        website: None,
    },
    OrgSpec {
        key: "dh-kt",
        email: "dh.kythuat@demo.techx.vn",
        person: "TS. Trần Quốc Bảo",
        name: "Trường Đại học Kỹ thuật Duyên hải",
        kind: "university",
        province: "da-nang",
        sectors: &["1.2", "2.2", "2.7"],
        services: &[],
        description: "Phòng thí nghiệm IoT, trí tuệ nhân tạo và kỹ thuật môi trường.",
        website: None,
    },
    OrgSpec {
        key: "dh-nl",
        email: "dh.nonglam@demo.techx.vn",
        person: "PGS.TS. Hoàng Văn Phúc",
        name: "Trường Đại học Nông Lâm Bắc Trung Bộ",
        kind: "university",
        province: "nghe-an",
        sectors: &["4.2", "4.3"],
        services: &[],
        description: "Chăn nuôi, thú y và thủy sản nước lợ.",
        website: None,
    },
    OrgSpec {
        key: "cty-channuoi",
        email: "cty.saovang@demo.techx.vn",
        person: "Ông Phạm Minh Tuấn",
        name: "Công ty Cổ phần Chăn nuôi Sao Vàng",
        kind: "enterprise",
        province: "thanh-hoa",
        sectors: &["4.2"],
        services: &[],
        description: "Trang trại lợn và gà quy mô 20 000 con, cần xử lý chất thải và nâng cao năng suất.",
        website: None,
    },
    OrgSpec {
        key: "cty-duoc",
        email: "cty.mekongxanh@demo.techx.vn",
        person: "Bà Võ Thị Lan",
        name: "Công ty TNHH Dược phẩm Mê Kông Xanh",
        kind: "enterprise",
        province: "can-tho",
        sectors: &["3.2", "3.4"],
        services: &[],
        description: "Sản xuất thực phẩm bảo vệ sức khỏe từ dược liệu đạt chuẩn GMP.",
        website: None,
    },
    OrgSpec {
        key: "htx",
        email: "htx.trieuson@demo.techx.vn",
        person: "Ông Đỗ Văn Thành",
        name: "Hợp tác xã Nông nghiệp Hữu cơ Triệu Sơn",
        kind: "enterprise",
        province: "thanh-hoa",
        sectors: &["4.1"],
        services: &[],
        description: "120 hộ thành viên trồng lúa, rau và cây ăn quả theo hướng hữu cơ.",
        website: None,
    },
    OrgSpec {
        key: "cty-phanmem",
        email: "cty.songhan@demo.techx.vn",
        person: "Ông Ngô Đức Anh",
        name: "Công ty Cổ phần Phần mềm Sông Hàn",
        kind: "enterprise",
        province: "da-nang",
        sectors: &["1.2"],
        services: &[],
        description: "Khởi nghiệp đổi mới sáng tạo về nông nghiệp số và truy xuất nguồn gốc.",
        website: None,
    },
    OrgSpec {
        key: "trung-tam",
        email: "trungtam.chuyengiao@demo.techx.vn",
        person: "ThS. Bùi Thu Hà",
        name: "Trung tâm Ứng dụng và Chuyển giao Công nghệ Thanh Hóa",
        kind: "intermediary",
        province: "thanh-hoa",
        sectors: &["4.1", "2.7"],
        services: &["brokering", "consulting", "assessment"],
        description: "Giới thiệu công nghệ, tư vấn và môi giới chuyển giao công nghệ trên địa bàn tỉnh.",
        website: None,
    },
    OrgSpec {
        key: "dinh-gia",
        email: "dinhgia.taisantritue@demo.techx.vn",
        person: "Ông Lý Quang Vinh",
        name: "Công ty TNHH Thẩm định giá Tài sản Trí tuệ Việt",
        kind: "intermediary",
        province: "ha-noi",
        sectors: &["5.2"],
        services: &["valuation", "consulting"],
        description: "Thẩm định giá công nghệ và tài sản trí tuệ theo Thông tư 37/2024/TT-BTC.",
        website: None,
    },
];

struct ListingSpec {
    key: &'static str,
    org: &'static str,
    kind: Kind,
    title: &'static str,
    summary: &'static str,
    description: &'static str,
    advantages: Option<&'static str>,
    applications: Option<&'static str>,
    sectors: &'static [&'static str],
    keywords: &'static [&'static str],
    trl: u8,
    /// (type, number) of a granted Vietnamese title.
    ip: Option<(&'static str, &'static str)>,
    forms: &'static [&'static str],
    /// Indicative VND range.
    price: Option<(i64, i64)>,
    province: &'static str,
    /// The state-funded task a research result came from.
    research: Option<ResearchSpec>,
    status: Status,
}

struct ResearchSpec {
    level: FundingLevel,
    programme: &'static str,
    task_code: &'static str,
    agency: &'static str,
    budget: i64,
    year: i32,
    rights: RightsStatus,
}

const M: i64 = 1_000_000;

const LISTINGS: &[ListingSpec] = &[
    ListingSpec {
        key: "che-pham-vi-sinh",
        org: "vien-nn",
        kind: Kind::Technology,
        title: "Chế phẩm vi sinh xử lý phụ phẩm nông nghiệp thành phân bón hữu cơ",
        summary: "Chế phẩm gồm 4 chủng vi sinh vật bản địa phân giải xenluloza, ủ rơm rạ và phân chuồng thành phân hữu cơ trong 25–30 ngày.",
        description: "Chế phẩm được phân lập từ đất trồng lúa Thanh Hóa, gồm các chủng Bacillus, Trichoderma và xạ khuẩn có khả năng phân giải xenluloza mạnh. Quy trình ủ đơn giản, phù hợp hộ gia đình và hợp tác xã: phối trộn rơm rạ, phân chuồng và chế phẩm, đảo trộn sau 10 ngày. Phân thành phẩm đạt tiêu chuẩn phân bón hữu cơ theo Nghị định 84/2019/NĐ-CP. Đã áp dụng trên 300 ha lúa tại Triệu Sơn, Thọ Xuân.",
        advantages: Some(
            "Rút ngắn thời gian ủ từ 90 xuống 30 ngày; giảm đốt rơm rạ; giảm 20% phân bón hóa học.",
        ),
        applications: Some("Hợp tác xã, trang trại trồng trọt, cơ sở sản xuất phân bón hữu cơ."),
        sectors: &["4.1", "2.8"],
        keywords: &["phân bón hữu cơ", "vi sinh vật", "rơm rạ", "nông nghiệp hữu cơ"],
        trl: 8,
        ip: Some(("utility_solution", "2-0002871")),
        forms: &["usage_licence", "technical_services"],
        price: Some((150 * M, 300 * M)),
        province: "thanh-hoa",
        research: None,
        status: Status::Published,
    },
    ListingSpec {
        key: "giong-lua",
        org: "vien-nn",
        kind: Kind::ResearchResult,
        title: "Giống lúa thuần chịu mặn TH-Sao Vàng 9",
        summary: "Giống lúa thuần ngắn ngày, chịu mặn đến 4‰, năng suất 6,5–7 tấn/ha, công nhận giống cây trồng mới năm 2023.",
        description: "Kết quả đề tài khoa học cấp tỉnh về chọn tạo giống lúa thích ứng biến đổi khí hậu cho vùng ven biển Thanh Hóa. Thời gian sinh trưởng 105–110 ngày vụ xuân, chống đổ tốt, nhiễm nhẹ đạo ôn. Đã khảo nghiệm tại Hoằng Hóa, Nga Sơn, Quảng Xương. Tài sản thuộc sở hữu nhà nước; quyền sử dụng có thể giao cho doanh nghiệp sản xuất giống.",
        advantages: Some("Chịu mặn, ngắn ngày, chất lượng gạo khá."),
        applications: Some("Doanh nghiệp giống cây trồng, vùng lúa ven biển nhiễm mặn."),
        sectors: &["4.1", "4.4"],
        keywords: &["giống lúa", "chịu mặn", "biến đổi khí hậu"],
        trl: 9,
        ip: Some(("plant_variety", "2023-VN-0117")),
        forms: &["usage_licence", "ownership_assignment"],
        price: Some((500 * M, 1_200 * M)),
        province: "thanh-hoa",
        research: Some(ResearchSpec {
            level: FundingLevel::Provincial,
            programme: "Chương trình KH&CN trọng điểm tỉnh Thanh Hóa giai đoạn 2021–2025",
            task_code: "ĐTKHCN-TH.12/2021",
            agency: "Sở Khoa học và Công nghệ Thanh Hóa",
            budget: 2_350 * M,
            year: 2023,
            rights: RightsStatus::StateOwned,
        }),
        status: Status::Published,
    },
    ListingSpec {
        key: "nuoi-cay-mo-lan",
        org: "vien-nn",
        kind: Kind::Technology,
        title: "Quy trình nhân giống lan kim tuyến bằng nuôi cấy mô",
        summary: "Nhân nhanh lan kim tuyến sạch bệnh in vitro, hệ số nhân 5–6 lần/chu kỳ, tỷ lệ sống ngoài vườn ươm trên 90%.",
        description: "Quy trình gồm khử trùng mẫu, tạo chồi, nhân chồi, ra rễ và huấn luyện cây con. Môi trường nuôi cấy dùng nguyên liệu sẵn có. Cây giống đồng đều, sạch bệnh, phù hợp trồng dưới tán rừng.",
        advantages: None,
        applications: Some("Cơ sở sản xuất giống dược liệu, hợp tác xã vùng núi."),
        sectors: &["4.4", "1.6"],
        keywords: &["nuôi cấy mô", "lan kim tuyến", "dược liệu"],
        trl: 7,
        ip: None,
        forms: &["technical_services", "usage_licence"],
        price: Some((80 * M, 120 * M)),
        province: "thanh-hoa",
        research: None,
        status: Status::PendingReview,
    },
    ListingSpec {
        key: "cao-dinh-lang",
        org: "vien-duoc",
        kind: Kind::ResearchResult,
        title: "Quy trình chiết xuất cao đinh lăng chuẩn hóa saponin",
        summary: "Chiết xuất cao khô đinh lăng hàm lượng saponin toàn phần trên 12%, quy mô 50 kg/mẻ, kết quả đề tài cấp bộ.",
        description: "Đề tài cấp bộ đã xây dựng quy trình chiết xuất, tinh chế và sấy phun cao đinh lăng đạt tiêu chuẩn cơ sở, kèm phương pháp định lượng saponin bằng HPLC. Sản phẩm đã thử độc tính cấp và bán trường diễn. Phù hợp sản xuất thực phẩm bảo vệ sức khỏe và thuốc dược liệu.",
        advantages: Some(
            "Hàm lượng hoạt chất ổn định giữa các mẻ; hiệu suất chiết cao hơn 30% so với ngâm kiệt.",
        ),
        applications: Some("Nhà máy dược phẩm đạt GMP, doanh nghiệp thực phẩm chức năng."),
        sectors: &["3.4", "2.9"],
        keywords: &["đinh lăng", "saponin", "chiết xuất dược liệu", "y dược"],
        trl: 7,
        ip: Some(("patent", "1-0031245")),
        forms: &["usage_licence", "capital_contribution"],
        price: Some((900 * M, 1_500 * M)),
        province: "lam-dong",
        research: Some(ResearchSpec {
            level: FundingLevel::Ministerial,
            programme: "Chương trình phát triển công nghiệp dược, dược liệu",
            task_code: "ĐTĐL.CN-14/22",
            agency: "Bộ Khoa học và Công nghệ",
            budget: 4_800 * M,
            year: 2024,
            rights: RightsStatus::StateOwned,
        }),
        status: Status::Published,
    },
    ListingSpec {
        key: "kit-chan-doan",
        org: "vien-duoc",
        kind: Kind::Technology,
        title: "Bộ kit chẩn đoán nhanh bệnh sốt xuất huyết Dengue",
        summary: "Kit xét nghiệm nhanh kháng nguyên NS1 cho kết quả sau 15 phút, độ nhạy 94%, dùng tại trạm y tế tuyến xã.",
        description: "Bộ kit sử dụng kháng thể đơn dòng tự sản xuất, que thử sắc ký miễn dịch. Đã đánh giá trên 600 mẫu lâm sàng tại bệnh viện tuyến tỉnh. Chi phí sản xuất thấp hơn 40% so với kit nhập khẩu.",
        advantages: Some("Giá thành thấp, bảo quản ở nhiệt độ phòng."),
        applications: Some("Bệnh viện, trung tâm y tế, doanh nghiệp sinh phẩm."),
        sectors: &["3.2", "3.4"],
        keywords: &["chẩn đoán nhanh", "sốt xuất huyết", "sinh phẩm"],
        trl: 6,
        ip: Some(("patent", "1-0029876")),
        forms: &["ownership_assignment", "usage_licence"],
        price: None,
        province: "lam-dong",
        research: None,
        status: Status::Published,
    },
    ListingSpec {
        key: "iot-tuoi",
        org: "dh-kt",
        kind: Kind::Technology,
        title: "Hệ thống tưới tiết kiệm nước điều khiển bằng cảm biến IoT",
        summary: "Cảm biến độ ẩm đất, trạm thời tiết mini và ứng dụng di động điều khiển tưới nhỏ giọt, tiết kiệm 35% nước.",
        description: "Hệ thống gồm nút cảm biến LoRa dùng pin mặt trời, bộ điều khiển van, máy chủ thu thập dữ liệu và ứng dụng trên điện thoại. Thuật toán lập lịch tưới theo dự báo thời tiết và nhu cầu nước của cây. Đã triển khai tại 12 trang trại rau và cây ăn quả.",
        advantages: Some("Tiết kiệm nước và nhân công; dữ liệu mở cho truy xuất nguồn gốc."),
        applications: Some("Trang trại rau, cây ăn quả, nhà màng."),
        sectors: &["1.2", "2.2", "4.1"],
        keywords: &["IoT", "tưới tiết kiệm", "nông nghiệp công nghệ cao", "cảm biến"],
        trl: 8,
        ip: Some(("copyright_software", "4512/2024/QTG")),
        forms: &["usage_licence", "machinery_with_technology"],
        price: Some((60 * M, 250 * M)),
        province: "da-nang",
        research: None,
        status: Status::Published,
    },
    ListingSpec {
        key: "xu-ly-nuoc-thai",
        org: "dh-kt",
        kind: Kind::Technology,
        title: "Công nghệ xử lý nước thải chăn nuôi bằng biogas kết hợp đất ngập nước",
        summary: "Xử lý nước thải trang trại lợn đạt QCVN 62-MT:2016/BTNMT cột B, chi phí vận hành dưới 3 000 đồng/m³.",
        description: "Dây chuyền gồm bể biogas phủ bạt HDPE, bể thiếu khí – hiếu khí và bãi lọc trồng cây bản địa. Khí biogas dùng phát điện hoặc đun nấu. Mô hình trình diễn tại trang trại 2 000 con lợn đã vận hành ổn định 3 năm.",
        advantages: Some("Chi phí đầu tư thấp, vận hành đơn giản, tận dụng năng lượng."),
        applications: Some("Trang trại chăn nuôi lợn, bò quy mô vừa và lớn."),
        sectors: &["2.7", "2.8", "4.2"],
        keywords: &["xử lý nước thải", "chăn nuôi", "biogas", "môi trường"],
        trl: 8,
        ip: Some(("utility_solution", "2-0003102")),
        forms: &["technical_services", "usage_licence"],
        price: Some((400 * M, 900 * M)),
        province: "da-nang",
        research: None,
        status: Status::Published,
    },
    ListingSpec {
        key: "phan-mem-truy-xuat",
        org: "dh-kt",
        kind: Kind::ResearchResult,
        title: "Nền tảng truy xuất nguồn gốc nông sản dùng mã QR và chuỗi khối",
        summary: "Phần mềm ghi nhận nhật ký sản xuất, chứng nhận và vận chuyển; người mua quét mã QR để xem hành trình sản phẩm.",
        description: "Kết quả đề tài cấp quốc gia thuộc chương trình phát triển công nghệ thông tin. Nền tảng mã nguồn đóng gồm ứng dụng nhật ký điện tử cho nông dân, cổng quản lý cho hợp tác xã và API kết nối sàn thương mại điện tử. Quyền sử dụng đã giao cho tổ chức chủ trì.",
        advantages: None,
        applications: Some("Hợp tác xã, doanh nghiệp xuất khẩu nông sản, cơ quan quản lý."),
        sectors: &["1.2"],
        keywords: &["truy xuất nguồn gốc", "chuỗi khối", "phần mềm", "chuyển đổi số"],
        trl: 7,
        ip: Some(("copyright_software", "2210/2023/QTG")),
        forms: &["usage_licence"],
        price: Some((120 * M, 400 * M)),
        province: "da-nang",
        research: Some(ResearchSpec {
            level: FundingLevel::National,
            programme: "Chương trình KC.01/21-30: Nghiên cứu, phát triển và ứng dụng công nghệ thông tin",
            task_code: "KC.01.09/21-30",
            agency: "Bộ Khoa học và Công nghệ",
            budget: 6_200 * M,
            year: 2023,
            rights: RightsStatus::UsageAssigned,
        }),
        status: Status::Published,
    },
    ListingSpec {
        key: "may-say",
        org: "dh-nl",
        kind: Kind::Equipment,
        title: "Máy sấy nông sản bơm nhiệt năng suất 500 kg/mẻ",
        summary: "Máy sấy bơm nhiệt giữ màu và dược tính, tiết kiệm 40% điện năng so với sấy điện trở; sấy dược liệu, trái cây, thủy sản.",
        description: "Thiết bị chế tạo trong nước, khung inox, điều khiển PLC với 6 chế độ sấy cài sẵn. Bán kèm chuyển giao quy trình sấy cho từng loại sản phẩm và đào tạo vận hành. Bảo hành 24 tháng.",
        advantages: Some("Nhiệt độ sấy thấp 40–60 °C, sản phẩm giữ màu và mùi tự nhiên."),
        applications: Some("Hợp tác xã, cơ sở chế biến dược liệu và trái cây sấy."),
        sectors: &["2.3", "4.1"],
        keywords: &["máy sấy", "bơm nhiệt", "sấy nông sản", "thiết bị"],
        trl: 9,
        ip: Some(("industrial_design", "3-0001543")),
        forms: &["machinery_with_technology"],
        price: Some((320 * M, 450 * M)),
        province: "nghe-an",
        research: None,
        status: Status::Published,
    },
    ListingSpec {
        key: "vac-xin-ga",
        org: "dh-nl",
        kind: Kind::ResearchResult,
        title: "Vắc xin vô hoạt phòng bệnh Newcastle cho gà thả vườn",
        summary: "Vắc xin nhũ dầu một liều tạo miễn dịch 6 tháng, sản xuất từ chủng virus phân lập tại Nghệ An.",
        description: "Kết quả đề tài cấp tỉnh Nghệ An. Vắc xin đã được thử nghiệm an toàn và hiệu lực trên 5 000 gà tại 3 huyện. Hồ sơ đăng ký lưu hành đang hoàn thiện; cần doanh nghiệp thú y nhận chuyển giao để sản xuất thương mại.",
        advantages: Some("Một liều duy nhất, phù hợp chăn nuôi nông hộ."),
        applications: Some("Doanh nghiệp thuốc thú y, trang trại gà."),
        sectors: &["4.3"],
        keywords: &["vắc xin thú y", "Newcastle", "gà thả vườn"],
        trl: 6,
        ip: None,
        forms: &["ownership_assignment", "usage_licence"],
        price: Some((700 * M, 1_000 * M)),
        province: "nghe-an",
        research: Some(ResearchSpec {
            level: FundingLevel::Provincial,
            programme: "Chương trình KH&CN tỉnh Nghệ An",
            task_code: "ĐT.NA-07/2022",
            agency: "Sở Khoa học và Công nghệ Nghệ An",
            budget: 1_650 * M,
            year: 2024,
            rights: RightsStatus::StateOwned,
        }),
        status: Status::Published,
    },
    ListingSpec {
        key: "tom-nuoc-lo",
        org: "dh-nl",
        kind: Kind::Technology,
        title: "Quy trình nuôi tôm thẻ chân trắng hai giai đoạn trong ao lót bạt",
        summary: "Ương tôm trong nhà màng 25 ngày rồi nuôi thương phẩm, tỷ lệ sống 85%, giảm dịch bệnh đốm trắng.",
        description: "Quy trình áp dụng chế phẩm vi sinh quản lý chất lượng nước, hệ thống sục khí đáy và siphon chất thải. Đã chuyển giao cho 15 hộ nuôi ven biển Nghệ An và Hà Tĩnh.",
        advantages: None,
        applications: Some("Hộ và doanh nghiệp nuôi tôm ven biển."),
        sectors: &["4.1"],
        keywords: &["nuôi tôm", "thủy sản", "ao lót bạt"],
        trl: 9,
        ip: None,
        forms: &["technical_services"],
        price: Some((50 * M, 90 * M)),
        province: "nghe-an",
        research: None,
        status: Status::Draft,
    },
];

struct DemandSpec {
    org: &'static str,
    title: &'static str,
    problem: &'static str,
    requirements: Option<&'static str>,
    sectors: &'static [&'static str],
    keywords: &'static [&'static str],
    trl_min: u8,
    budget_max: Option<i64>,
    forms: &'static [&'static str],
    province: &'static str,
    status: Status,
}

const DEMANDS: &[DemandSpec] = &[
    DemandSpec {
        org: "cty-channuoi",
        title: "Cần công nghệ xử lý nước thải trang trại lợn đạt quy chuẩn",
        problem: "Trang trại 5 000 lợn thịt tại Yên Định xả nước thải chưa đạt QCVN 62-MT:2016/BTNMT; cần giải pháp xử lý ổn định, chi phí vận hành thấp, tận dụng khí biogas.",
        requirements: Some("Công suất 150 m³/ngày; bàn giao trong 6 tháng; có đào tạo vận hành."),
        sectors: &["2.7", "4.2"],
        keywords: &["xử lý nước thải", "chăn nuôi", "biogas"],
        trl_min: 7,
        budget_max: Some(1_000 * M),
        forms: &["technical_services", "usage_licence"],
        province: "thanh-hoa",
        status: Status::Published,
    },
    DemandSpec {
        org: "cty-duoc",
        title: "Tìm quy trình chiết xuất dược liệu chuẩn hóa hoạt chất",
        problem: "Công ty cần quy trình chiết xuất cao dược liệu có hàm lượng hoạt chất ổn định để đăng ký sản phẩm thực phẩm bảo vệ sức khỏe.",
        requirements: Some("Đã có dữ liệu an toàn; chuyển giao tại nhà máy Cần Thơ."),
        sectors: &["3.4"],
        keywords: &["chiết xuất dược liệu", "saponin", "y dược"],
        trl_min: 6,
        budget_max: Some(2_000 * M),
        forms: &["usage_licence", "ownership_assignment"],
        province: "can-tho",
        status: Status::Published,
    },
    DemandSpec {
        org: "htx",
        title: "Cần máy sấy nông sản tiết kiệm điện cho hợp tác xã",
        problem: "Hợp tác xã sấy rau củ và dược liệu bằng lò than, sản phẩm bị đổi màu, không đạt yêu cầu của siêu thị.",
        requirements: None,
        sectors: &["2.3", "4.1"],
        keywords: &["máy sấy", "sấy nông sản", "tiết kiệm năng lượng"],
        trl_min: 8,
        budget_max: Some(500 * M),
        forms: &["machinery_with_technology"],
        province: "thanh-hoa",
        status: Status::Published,
    },
    DemandSpec {
        org: "cty-phanmem",
        title: "Đặt hàng nghiên cứu mô hình AI dự báo sâu bệnh trên lúa",
        problem: "Công ty cần mô hình nhận dạng sâu bệnh từ ảnh chụp điện thoại để tích hợp vào ứng dụng nông nghiệp số đang có 20 000 người dùng.",
        requirements: Some("Độ chính xác trên 85% với 10 loại sâu bệnh phổ biến."),
        sectors: &["1.2", "4.1"],
        keywords: &["trí tuệ nhân tạo", "sâu bệnh", "phòng trừ sâu bệnh"],
        trl_min: 4,
        budget_max: Some(800 * M),
        forms: &["joint_venture"],
        province: "da-nang",
        status: Status::PendingReview,
    },
];

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
        price: spec.price.map(|(min, max)| Price {
            min: Some(min),
            max: Some(max),
            currency: "VND".into(),
            basis: PriceBasis::Negotiable,
        }),
        province: spec.province.into(),
        contact_visibility: ContactVisibility::Public,
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
    org: Id,
    user: Id,
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
            listing = technologies::submit(conn, &listing)?;
        }
        if spec.status == Status::Published {
            listing = technologies::approve(conn, &listing, moderator, settings.validity_days)?;
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
        let pending = demands::transition(conn, &draft, Status::PendingReview, None, 0)?;
        if spec.status == Status::Published {
            let published = demands::transition(
                conn,
                &pending,
                Status::Published,
                None,
                settings.validity_days,
            )?;
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

    // Deals in several stages: three from enquiries, three brokered.
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

    // 6. Cancelled: the diagnostic kit, brokered.
    let mut terms = vnd(1_500 * M);
    terms.broker_fee = Some(60 * M);
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
