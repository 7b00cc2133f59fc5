//! HTTP handlers, one module per resource: extract, authorise, validate, map DTOs.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod codes;
pub mod common;
pub mod deals;
pub mod demands;
pub mod extract;
pub mod inquiries;
pub mod key_auth;
pub mod limits;
pub mod links;
pub mod ops;
pub mod organizations;
pub mod payloads;
pub mod search;
pub mod stats;
pub mod taxonomy;
pub mod technologies;
pub mod users;
pub mod validate;
pub mod valuations;
pub mod webhooks;

/// Every `/api/v1` route. Registered with `.service()` so utoipa-actix-web puts each one in
/// the OpenAPI document.
pub fn v1_routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(taxonomy::sectors)
        .service(taxonomy::provinces)
        .service(taxonomy::trl_levels)
        .service(taxonomy::transfer_forms)
        .service(taxonomy::ip_types)
        .service(auth::register)
        .service(auth::verify_email)
        .service(auth::resend_verification)
        .service(auth::login)
        .service(auth::refresh_tokens)
        .service(auth::logout)
        .service(auth::password_reset)
        .service(auth::password_reset_confirm)
        .service(users::get_me)
        .service(users::update_me)
        .service(users::change_password)
        .service(users::list_users)
        .service(users::update_user)
        .service(users::list_outbox)
        .service(users::retry_outbox)
        .service(organizations::create_organization)
        .service(organizations::list_organizations)
        .service(organizations::get_organization)
        .service(organizations::update_organization)
        .service(organizations::list_members)
        .service(organizations::set_member_role)
        .service(organizations::remove_member)
        .service(organizations::invite_member)
        .service(organizations::list_invitations)
        .service(organizations::revoke_invitation)
        .service(organizations::accept_invitation)
        .service(organizations::verify_organization)
        .service(api_keys::create_api_key)
        .service(api_keys::list_api_keys)
        .service(api_keys::get_api_key)
        .service(api_keys::revoke_api_key)
        .service(api_keys::roll_api_key)
        .service(audit::list_audit_events)
        .service(audit::list_all_audit_events)
        .service(webhooks::create_webhook)
        .service(webhooks::list_webhooks)
        .service(webhooks::get_webhook)
        .service(webhooks::update_webhook)
        .service(webhooks::delete_webhook)
        .service(webhooks::list_webhook_deliveries)
        .service(webhooks::test_webhook)
        .service(technologies::create_technology)
        .service(technologies::search_technologies)
        .service(technologies::get_technology)
        .service(technologies::update_technology)
        .service(technologies::delete_technology)
        .service(technologies::submit_technology)
        .service(technologies::review_technology)
        .service(technologies::archive_technology)
        .service(technologies::renew_technology)
        .service(technologies::organization_technologies)
        .service(inquiries::create_inquiry)
        .service(inquiries::list_inquiries)
        .service(inquiries::get_inquiry)
        .service(inquiries::post_inquiry_message)
        .service(inquiries::close_inquiry)
        .service(deals::create_deal)
        .service(deals::list_deals)
        .service(deals::get_deal)
        .service(deals::update_deal)
        .service(deals::set_checklist_item)
        .service(deals::accept_deal)
        .service(deals::confirm_signing)
        .service(deals::transition_deal)
        .service(deals::add_deal_note)
        .service(deals::attach_deal_document)
        .service(deals::list_deal_events)
        .service(valuations::create_valuation_request)
        .service(valuations::list_valuation_requests)
        .service(valuations::get_valuation_request)
        .service(valuations::assign_valuation_request)
        .service(valuations::claim_valuation_request)
        .service(valuations::start_valuation_request)
        .service(valuations::complete_valuation_request)
        .service(valuations::decline_valuation_request)
        .service(valuations::cancel_valuation_request)
        .service(valuations::technology_valuations)
        .service(valuations::estimate_valuation)
        .service(demands::create_demand)
        .service(demands::search_demands)
        .service(demands::get_demand)
        .service(demands::update_demand)
        .service(demands::delete_demand)
        .service(demands::submit_demand)
        .service(demands::review_demand)
        .service(demands::archive_demand)
        .service(demands::renew_demand)
        .service(demands::create_proposal)
        .service(demands::list_proposals)
        .service(demands::accept_proposal)
        .service(demands::decline_proposal)
        .service(demands::withdraw_proposal)
        .service(demands::demand_matches)
        .service(demands::technology_matches)
        .service(demands::dismiss_match)
        .service(stats::stats_overview)
        .service(stats::activity_report)
        .service(stats::open_data_technologies);
}

/// Operational endpoints outside the versioned API.
pub fn ops_routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(ops::healthz).service(ops::readyz).service(ops::metrics);
}
