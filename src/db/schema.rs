//! The schema, written by hand for both backends (`diesel print-schema` differs per
//! backend); `tests/api/migrations.rs` checks it against both migrated databases.

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    outbox (id) {
        id -> SqlUuid,
        channel -> Text,
        recipient -> Text,
        template -> Text,
        language -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        lease_id -> Nullable<SqlUuid>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    users (id) {
        id -> SqlUuid,
        email -> Text,
        email_normalized -> Text,
        password_hash -> Text,
        display_name -> Text,
        language -> Text,
        platform_role -> Text,
        email_verified_at -> Nullable<Timestamp>,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    email_tokens (id) {
        id -> SqlUuid,
        user_id -> SqlUuid,
        purpose -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    refresh_tokens (id) {
        id -> SqlUuid,
        user_id -> SqlUuid,
        family_id -> SqlUuid,
        token_hash -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        window_start -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    organizations (id) {
        id -> SqlUuid,
        name -> Text,
        name_folded -> Text,
        kind -> Text,
        tax_code -> Nullable<Text>,
        province -> Text,
        address -> Nullable<Text>,
        website -> Nullable<Text>,
        description -> Nullable<Text>,
        sectors -> Text,
        services -> Text,
        verified -> Bool,
        verified_at -> Nullable<Timestamp>,
        created_by -> SqlUuid,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    memberships (organization_id, user_id) {
        organization_id -> SqlUuid,
        user_id -> SqlUuid,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    invitations (id) {
        id -> SqlUuid,
        organization_id -> SqlUuid,
        email_normalized -> Text,
        role -> Text,
        token_hash -> Text,
        invited_by -> SqlUuid,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        accepted_by -> Nullable<SqlUuid>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    organization_verifications (id) {
        id -> SqlUuid,
        organization_id -> SqlUuid,
        status -> Text,
        note -> Nullable<Text>,
        decided_by -> SqlUuid,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    idempotency_keys (user_id, key) {
        user_id -> SqlUuid,
        key -> Text,
        request_hash -> Text,
        status_code -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    webhook_endpoints (id) {
        id -> SqlUuid,
        organization_id -> SqlUuid,
        url -> Text,
        event_types -> Text,
        active -> Bool,
        secret -> Text,
        consecutive_failures -> Integer,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        created_by -> SqlUuid,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    webhook_deliveries (id) {
        id -> SqlUuid,
        endpoint_id -> SqlUuid,
        outbox_id -> SqlUuid,
        event_id -> SqlUuid,
        event_type -> Text,
        attempt -> Integer,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    technologies (id) {
        id -> SqlUuid,
        organization_id -> SqlUuid,
        created_by -> SqlUuid,
        kind -> Text,
        status -> Text,
        language -> Text,
        title -> Text,
        summary -> Text,
        description -> Text,
        advantages -> Nullable<Text>,
        applications -> Nullable<Text>,
        sectors -> Text,
        keywords -> Text,
        trl -> Nullable<Integer>,
        ip_records -> Text,
        transfer_forms -> Text,
        price_min -> Nullable<BigInt>,
        price_max -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        price_basis -> Nullable<Text>,
        province -> Text,
        contact_visibility -> Text,
        title_folded -> Text,
        search_text -> Text,
        rejection_reason -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
        published_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        expiry_warned_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    research_results (technology_id) {
        technology_id -> SqlUuid,
        funding_level -> Text,
        programme -> Nullable<Text>,
        task_code -> Text,
        host_organization -> Text,
        managing_agency -> Text,
        budget_spent -> Nullable<BigInt>,
        budget_currency -> Nullable<Text>,
        completion_year -> Nullable<Integer>,
        rights_status -> Text,
        assignee -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    technology_reviews (id) {
        id -> SqlUuid,
        technology_id -> SqlUuid,
        decision -> Text,
        reason -> Nullable<Text>,
        decided_by -> SqlUuid,
        created_at -> Timestamp,
        submitted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    deals (id) {
        id -> SqlUuid,
        technology_id -> SqlUuid,
        buyer_organization_id -> SqlUuid,
        seller_organization_id -> SqlUuid,
        broker_organization_id -> Nullable<SqlUuid>,
        demand_id -> Nullable<SqlUuid>,
        proposal_id -> Nullable<SqlUuid>,
        inquiry_id -> Nullable<SqlUuid>,
        stage -> Text,
        transfer_form -> Text,
        exclusive -> Nullable<Bool>,
        territory -> Nullable<Text>,
        term_months -> Nullable<Integer>,
        sublicensing -> Nullable<Bool>,
        price -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        payment_schedule -> Nullable<Text>,
        broker_fee -> Nullable<BigInt>,
        final_price -> Nullable<BigInt>,
        buyer_accepted_at -> Nullable<Timestamp>,
        seller_accepted_at -> Nullable<Timestamp>,
        buyer_confirmed_signing_at -> Nullable<Timestamp>,
        seller_confirmed_signing_at -> Nullable<Timestamp>,
        cancel_reason -> Nullable<Text>,
        created_by -> SqlUuid,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        signed_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    deal_events (id) {
        id -> SqlUuid,
        deal_id -> SqlUuid,
        actor_id -> SqlUuid,
        actor_organization_id -> Nullable<SqlUuid>,
        kind -> Text,
        from_stage -> Nullable<Text>,
        to_stage -> Nullable<Text>,
        data_before -> Nullable<Text>,
        data_after -> Nullable<Text>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    deal_checklist (deal_id, item) {
        deal_id -> SqlUuid,
        item -> Text,
        ticked -> Bool,
        note -> Nullable<Text>,
        ticked_by -> Nullable<SqlUuid>,
        ticked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    inquiries (id) {
        id -> SqlUuid,
        technology_id -> SqlUuid,
        from_organization_id -> SqlUuid,
        to_organization_id -> SqlUuid,
        created_by -> SqlUuid,
        message -> Text,
        intended_use -> Text,
        transfer_form -> Text,
        budget -> Nullable<BigInt>,
        budget_currency -> Nullable<Text>,
        status -> Text,
        answered_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    inquiry_messages (id) {
        id -> SqlUuid,
        inquiry_id -> SqlUuid,
        organization_id -> SqlUuid,
        author_id -> SqlUuid,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    valuation_requests (id) {
        id -> SqlUuid,
        technology_id -> SqlUuid,
        requester_organization_id -> SqlUuid,
        requested_by -> SqlUuid,
        deal_id -> Nullable<SqlUuid>,
        purpose -> Text,
        rights_kind -> Text,
        rights_exclusive -> Nullable<Bool>,
        rights_territory -> Nullable<Text>,
        rights_term_months -> Nullable<Integer>,
        valuation_date -> Text,
        preferred_method -> Text,
        inputs -> Text,
        deadline -> Nullable<Text>,
        status -> Text,
        appraiser_organization_id -> Nullable<SqlUuid>,
        value_point -> Nullable<BigInt>,
        value_low -> Nullable<BigInt>,
        value_high -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        methods -> Text,
        assumptions -> Nullable<Text>,
        report_summary -> Nullable<Text>,
        report_url -> Nullable<Text>,
        completed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    valuation_request_events (id) {
        id -> SqlUuid,
        valuation_request_id -> SqlUuid,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor_user_id -> SqlUuid,
        note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    demands (id) {
        id -> SqlUuid,
        organization_id -> SqlUuid,
        created_by -> SqlUuid,
        status -> Text,
        language -> Text,
        province -> Text,
        trl_min -> Nullable<Integer>,
        budget_min -> Nullable<BigInt>,
        budget_max -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        deadline -> Nullable<Text>,
        hide_organization -> Bool,
        sectors -> Text,
        keywords -> Text,
        transfer_forms -> Text,
        rejection_reason -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
        published_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        expiry_warned_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        title -> Text,
        problem -> Text,
        requirements -> Nullable<Text>,
        title_folded -> Text,
        search_text -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    proposals (id) {
        id -> SqlUuid,
        demand_id -> SqlUuid,
        organization_id -> SqlUuid,
        technology_id -> Nullable<SqlUuid>,
        created_by -> SqlUuid,
        status -> Text,
        price -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        timeline_months -> Nullable<Integer>,
        decided_by -> Nullable<SqlUuid>,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        approach -> Text,
        message -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    match_notifications (technology_id, demand_id) {
        technology_id -> SqlUuid,
        demand_id -> SqlUuid,
        score -> Integer,
        notified_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    match_dismissals (technology_id, demand_id, organization_id) {
        technology_id -> SqlUuid,
        demand_id -> SqlUuid,
        organization_id -> SqlUuid,
        dismissed_by -> SqlUuid,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    /// The search engine's change feed, written by triggers (migration 000020).
    search_changes (seq) {
        seq -> BigInt,
        entity -> Text,
        entity_id -> SqlUuid,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    api_keys (id) {
        id -> SqlUuid,
        organization_id -> SqlUuid,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        previous_hash -> Nullable<Text>,
        previous_expires_at -> Nullable<Timestamp>,
        scopes -> Text,
        role -> Text,
        expires_at -> Nullable<Timestamp>,
        created_by -> SqlUuid,
        created_at -> Timestamp,
        rolled_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        last_used_address -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<SqlUuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    api_key_addresses (api_key_id, address) {
        api_key_id -> SqlUuid,
        address -> Text,
        first_seen_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    audit_events (id) {
        id -> SqlUuid,
        occurred_at -> Timestamp,
        organization_id -> Nullable<SqlUuid>,
        actor_type -> Text,
        user_id -> Nullable<SqlUuid>,
        api_key_id -> Nullable<SqlUuid>,
        operation_id -> Text,
        method -> Text,
        path -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        address -> Nullable<Text>,
        request_id -> Nullable<Text>,
        outcome -> Text,
        status -> Nullable<Integer>,
    }
}

diesel::joinable!(email_tokens -> users (user_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> organizations (organization_id));
diesel::joinable!(invitations -> organizations (organization_id));
diesel::joinable!(organization_verifications -> organizations (organization_id));
diesel::joinable!(webhook_endpoints -> organizations (organization_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(technologies -> organizations (organization_id));
diesel::joinable!(research_results -> technologies (technology_id));
diesel::joinable!(technology_reviews -> technologies (technology_id));
diesel::joinable!(deals -> technologies (technology_id));
diesel::joinable!(deal_events -> deals (deal_id));
diesel::joinable!(deal_checklist -> deals (deal_id));
diesel::joinable!(inquiries -> technologies (technology_id));
diesel::joinable!(inquiry_messages -> inquiries (inquiry_id));

diesel::joinable!(valuation_requests -> technologies (technology_id));
diesel::joinable!(valuation_request_events -> valuation_requests (valuation_request_id));
diesel::joinable!(demands -> organizations (organization_id));
diesel::joinable!(proposals -> demands (demand_id));
diesel::joinable!(api_keys -> organizations (organization_id));
diesel::joinable!(api_key_addresses -> api_keys (api_key_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    email_tokens,
    refresh_tokens,
    organizations,
    memberships,
    invitations,
    organization_verifications,
    idempotency_keys,
    webhook_endpoints,
    webhook_deliveries,
    technologies,
    research_results,
    technology_reviews,
    deals,
    deal_events,
    deal_checklist,
    inquiries,
    inquiry_messages,
    valuation_requests,
    valuation_request_events,
    demands,
    proposals,
    match_notifications,
    match_dismissals,
    api_keys,
    api_key_addresses,
    audit_events,
);
