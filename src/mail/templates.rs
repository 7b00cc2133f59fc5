//! Mail templates: files under `templates/mail/`, embedded in the binary, rendered with
//! minijinja. Each template has, per language, `<name>.<lang>.subject`, `.txt` and `.html`;
//! the HTML ones extend `_layout.html` and are autoescaped.
//!
//! Adding a mail: a line in the `mail_templates!` call below (variant, name, the context
//! fields it needs) and its six files.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::lang::Lang;

/// Embeds one template file, checked at compile time.
macro_rules! template_file {
    ($($file:tt)+) => {
        ($($file)+, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/mail/", $($file)+)))
    };
}

macro_rules! mail_templates {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal { $($field:literal),* $(,)? } )*) => {
        /// Which mail to send; stored in the outbox `template` column by its snake_case name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Template {
            $( $(#[$doc])* $variant, )*
        }

        impl Template {
            pub const ALL: &'static [Template] = &[$(Template::$variant),*];

            /// The name in the outbox and in the template file names.
            pub fn name(self) -> &'static str {
                match self {
                    $(Template::$variant => $name,)*
                }
            }

            /// Context fields the template uses; `enqueue` refuses a context without them.
            pub fn fields(self) -> &'static [&'static str] {
                match self {
                    $(Template::$variant => &[$($field),*],)*
                }
            }
        }

        const FILES: &[(&str, &str)] = &[
            template_file!("_layout.html"),
            $(
                template_file!(concat!($name, ".vi.subject")),
                template_file!(concat!($name, ".vi.txt")),
                template_file!(concat!($name, ".vi.html")),
                template_file!(concat!($name, ".en.subject")),
                template_file!(concat!($name, ".en.txt")),
                template_file!(concat!($name, ".en.html")),
            )*
        ];
    };
}

mail_templates! {
    /// Confirms a new account's address.
    VerifyEmail = "verify_email" { "display_name", "verify_url", "token" }
    /// Link to choose a new password.
    PasswordReset = "password_reset" { "display_name", "reset_url", "token" }
    /// Tells the owner their password changed (in case it was not them).
    PasswordChanged = "password_changed" { "display_name" }
    /// Invitation to join an organisation.
    OrganizationInvitation = "organization_invitation" {
        "organization_name", "inviter_name", "accept_url", "token"
    }
    /// Tells an organisation's owners that a webhook endpoint was disabled after failing.
    WebhookDisabled = "webhook_disabled" {
        "display_name", "organization_name", "webhook_url", "failures", "last_error", "manage_url"
    }
    /// An API key of the organisation was created, rolled, revoked, or used from a new
    /// address (`event`: created, rolled, revoked, new_address).
    ApiKeyActivity = "api_key_activity" {
        "organization_name", "key_name", "key_prefix", "event", "actor", "address", "manage_url"
    }
    /// A listing was approved and is public.
    ListingPublished = "listing_published" {
        "title", "organization_name", "listing_path", "published_at", "expires_at"
    }
    /// A moderator rejected a listing, with a reason.
    ListingRejected = "listing_rejected" {
        "title", "organization_name", "listing_path", "reason"
    }
    /// A published listing expires soon unless renewed.
    ListingExpiring = "listing_expiring" {
        "title", "organization_name", "listing_path", "expires_at", "days_left",
        "renewal_days"
    }
    /// A listing reached its expiry date and was archived.
    ListingExpired = "listing_expired" {
        "title", "organization_name", "listing_path", "expired_at"
    }
    /// Another organisation sent an enquiry about a listing.
    InquiryReceived = "inquiry_received" {
        "title", "organization_name", "from_organization_name", "message", "intended_use",
        "inquiry_path"
    }
    /// A deal moved to another stage; sent to every party's owners.
    DealStageChanged = "deal_stage_changed" {
        "title", "seller_name", "buyer_name", "from_stage", "to_stage", "note", "deal_path"
    }
    /// A valuation request changed status (mailed to the requester's owners).
    ValuationStatusChanged = "valuation_status_changed" {
        "title", "organization_name", "status", "valuation_path", "note"
    }
    /// A demand was approved and is public.
    DemandPublished = "demand_published" { "title", "demand_path", "published_at", "expires_at" }
    /// A moderator rejected a demand, with a reason.
    DemandRejected = "demand_rejected" { "title", "demand_path", "reason" }
    /// A published demand expires soon unless renewed.
    DemandExpiring = "demand_expiring" {
        "title", "demand_path", "expires_at", "days_left", "renewal_days"
    }
    /// A demand reached its expiry date and was archived.
    DemandExpired = "demand_expired" { "title", "demand_path", "expired_at" }
    /// A standing match above the notification threshold (sent to both sides).
    MatchFound = "match_found" { "own_title", "counterpart_title", "score", "matches_path" }
    /// An organisation answered a demand with a proposal (to the demand's owners).
    ProposalReceived = "proposal_received" { "demand_title", "organization_name", "proposal_path" }
    /// A proposal was accepted (to both sides).
    ProposalAccepted = "proposal_accepted" { "demand_title", "organization_name", "proposal_path" }
    /// A proposal was declined (to both sides).
    ProposalDeclined = "proposal_declined" { "demand_title", "organization_name", "proposal_path" }
    /// The offering organisation withdrew a pending proposal (to the demand's owners).
    ProposalWithdrawn = "proposal_withdrawn" {
        "demand_title", "organization_name", "proposal_path"
    }
}

impl Template {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.name() == name)
    }
}

/// A mail ready to be put into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render mail template {template}.{lang}: {message}")]
pub struct RenderError {
    pub template: &'static str,
    pub lang: &'static str,
    pub message: String,
}

/// Every template, parsed once.
pub struct Renderer {
    env: Environment<'static>,
    public_url: String,
}

impl Renderer {
    /// `public_url` is offered to every template (footers link to the exchange).
    pub fn new(public_url: &str) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        // A field the caller forgot is an error, not an empty string in someone's inbox.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Autoescaping follows the file name: `.html` is escaped, `.txt`/`.subject` are not.
        // minijinja's HTML escaping also turns `/` into `&#x2f;`, which is needless in text
        // and quoted attributes and makes links unreadable in the HTML source.
        env.set_formatter(|out, state, value| {
            if *state.auto_escape() == AutoEscape::Html && !value.is_safe() {
                out.write_str(&escape_html(&value.to_string())).map_err(minijinja::Error::from)
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        for (name, source) in FILES {
            env.add_template(name, source)?;
        }
        Ok(Self { env, public_url: public_url.to_owned() })
    }

    /// Renders subject, text and HTML in `lang`. `context` must be a JSON object; `lang` and
    /// `public_url` are added to it.
    pub fn render(
        &self,
        template: Template,
        lang: Lang,
        context: &serde_json::Value,
    ) -> Result<Rendered, RenderError> {
        let fail =
            |message: String| RenderError { template: template.name(), lang: lang.code(), message };
        let mut fields = match context {
            serde_json::Value::Object(map) => map.clone(),
            _ => return Err(fail("the context is not a JSON object".into())),
        };
        fields.insert("lang".into(), lang.code().into());
        fields.insert("public_url".into(), self.public_url.clone().into());
        let ctx = minijinja::Value::from(minijinja::value::Serde(&fields));
        let part = |kind: &str| {
            let name = format!("{}.{}.{kind}", template.name(), lang.code());
            self.env
                .get_template(&name)
                .and_then(|t| t.render(ctx.clone()))
                .map_err(|e| fail(format!("{name}: {e:#}")))
        };
        // A subject is one line, whatever the fields held.
        let subject = part("subject")?.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Rendered { subject, text: part("txt")?, html: part("html")? })
    }
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(template: Template) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for field in template.fields() {
            map.insert((*field).into(), format!("<{field}-value>").into());
        }
        serde_json::Value::Object(map)
    }

    fn renderer() -> Renderer {
        Renderer::new("https://techx.example.vn").unwrap()
    }

    #[test]
    fn every_template_renders_in_both_languages_with_its_declared_fields() {
        let renderer = renderer();
        for &template in Template::ALL {
            let mut rendered = Vec::new();
            for lang in [Lang::Vi, Lang::En] {
                let r = renderer
                    .render(template, lang, &sample(template))
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(!r.subject.is_empty() && !r.subject.contains('\n'), "{r:?}");
                assert!(r.text.len() > 40 && r.html.contains("</html>"), "{r:?}");
                assert!(r.html.contains(&format!("<html lang=\"{}\">", lang.code())), "{r:?}");
                assert!(r.html.contains("https://techx.example.vn"), "footer link: {r:?}");
                for field in template.fields() {
                    let raw = format!("<{field}-value>");
                    let escaped = format!("&lt;{field}-value&gt;");
                    // Every declared field shows up in the text part and, escaped, in HTML.
                    assert!(r.text.contains(&raw), "{template:?} {lang:?} text lacks {field}");
                    assert!(r.html.contains(&escaped), "{template:?} {lang:?} html lacks {field}");
                    assert!(!r.html.contains(&raw), "{template:?} {lang:?} html not escaped");
                }
                rendered.push(r);
            }
            assert_ne!(rendered[0].subject, rendered[1].subject, "{template:?} translated");
            assert_ne!(rendered[0].text, rendered[1].text, "{template:?} translated");
        }
    }

    #[test]
    fn vietnamese_mails_are_written_with_diacritics() {
        let r = renderer().render(Template::VerifyEmail, Lang::Vi, &sample(Template::VerifyEmail));
        let r = r.unwrap();
        assert_eq!(r.subject, "Xác nhận địa chỉ email của bạn trên techx");
        assert!(r.text.contains("Xin chào"), "{}", r.text);
        for &template in Template::ALL {
            let r = renderer().render(template, Lang::Vi, &sample(template)).unwrap();
            assert!(!r.subject.is_ascii(), "{template:?}: {}", r.subject);
            assert!(r.text.chars().filter(|c| !c.is_ascii()).count() > 10, "{template:?}");
        }
    }

    #[test]
    fn a_missing_field_is_an_error_not_a_blank() {
        let mut context = sample(Template::PasswordReset);
        context.as_object_mut().unwrap().remove("reset_url");
        let e = renderer().render(Template::PasswordReset, Lang::En, &context).unwrap_err();
        assert_eq!(e.template, "password_reset");
        assert!(e.message.contains("undefined"), "{e}");
        let e = renderer().render(Template::PasswordChanged, Lang::En, &json!(["x"])).unwrap_err();
        assert!(e.message.contains("not a JSON object"), "{e}");
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for &template in Template::ALL {
            assert_eq!(Template::parse(template.name()), Some(template));
            assert_eq!(serde_json::to_value(template).unwrap(), json!(template.name()));
        }
        assert_eq!(Template::parse("nope"), None);
    }

    #[test]
    fn html_escapes_markup_but_leaves_links_readable() {
        let context = json!({
            "organization_name": "R&D \"Mekong\" <Lab>",
            "inviter_name": "O'Neil",
            "accept_url": "https://techx.example.vn/invitations/accept?token=a&lang=vi",
            "token": "a",
        });
        let r = renderer().render(Template::OrganizationInvitation, Lang::En, &context).unwrap();
        assert!(r.html.contains("R&amp;D &quot;Mekong&quot; &lt;Lab&gt;"), "{}", r.html);
        assert!(r.html.contains("O&#39;Neil"), "{}", r.html);
        assert!(
            r.html.contains(
                "href=\"https://techx.example.vn/invitations/accept?token=a&amp;lang=vi\""
            ),
            "{}",
            r.html
        );
        // Text and subject are not HTML: they carry the values as given.
        assert!(r.text.contains("R&D \"Mekong\" <Lab>"), "{}", r.text);
        assert_eq!(r.subject, "O'Neil invited you to join R&D \"Mekong\" <Lab> on techx");
    }

    #[test]
    fn subject_is_one_line_even_with_newlines_in_fields() {
        let context = json!({
            "organization_name": "Viện\nCông nghệ",
            "inviter_name": "An",
            "accept_url": "https://x/a",
            "token": "t",
        });
        let r = renderer().render(Template::OrganizationInvitation, Lang::Vi, &context).unwrap();
        assert!(!r.subject.contains('\n'), "{}", r.subject);
        assert!(r.subject.contains("Viện Công nghệ"), "{}", r.subject);
    }
}
