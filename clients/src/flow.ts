// The main flow a front-end builds, against the client generated from openapi/openapi.json
// (`npm run typecheck`): register → organisation → listing → search → enquiry → deal.
// It is type-checked in strict mode, with no casts: when the contract loosens a type (a
// closed set becomes `string`, a payload `Record<string, never>`) or renames a field, this
// stops compiling. Exhaustive switches (`assertNever`) pin the enums.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "../generated/techx.js";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];

function assertNever(value: never): never {
  throw new Error(`unexpected value ${String(value)}`);
}

/** A label for each deal stage: stops compiling when the stage set changes. */
export function stageLabel(stage: Schemas["Stage"]): string {
  switch (stage) {
    case "open": return "Mở";
    case "negotiating": return "Đàm phán";
    case "valuation": return "Định giá";
    case "contracting": return "Soạn hợp đồng";
    case "signed": return "Đã ký";
    case "delivering": return "Đang chuyển giao";
    case "completed": return "Hoàn tất";
    case "cancelled": return "Đã huỷ";
    default: return assertNever(stage);
  }
}

/** Translatable field errors: a front-end keys its own texts by the stable code. */
export function fieldMessage(error: Schemas["FieldError"]): string {
  switch (error.code) {
    case "required": return "Bắt buộc";
    case "too_long": return `Tối đa ${error.params?.max ?? "?"} ký tự`;
    case "unknown_value": return `Giá trị không hợp lệ (${(error.params?.allowed ?? []).join(", ")})`;
    default: return error.message;
  }
}

/** How a failed call is shown: the stable code and each field's own code. */
export function describeProblem(problem: Problem): string {
  const code: Schemas["ProblemCode"] = problem.code;
  if (code === "precondition_failed") return "Dữ liệu đã thay đổi: tải lại rồi thử lại.";
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${fieldMessage(e)}`);
  return [`${problem.code} (${problem.status}): ${problem.detail}`, ...fields].join("\n");
}

function bearer(token: string): Middleware {
  return {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
}

export async function mainFlow(baseUrl: string, suffix: string): Promise<string> {
  const anonymous = createClient<paths>({ baseUrl });

  // 1. Register, then sign in (after following the verification mail).
  const password = "correct horse battery staple";
  const registered = await anonymous.POST("/api/v1/auth/register", {
    body: { email: `founder-${suffix}@example.vn`, password, display_name: "Nguyễn Văn A" },
  });
  if (registered.error) throw new Error(describeProblem(registered.error));
  const signedIn = await anonymous.POST("/api/v1/auth/login", {
    body: { email: registered.data.email, password },
  });
  if (signedIn.error) throw new Error(describeProblem(signedIn.error));
  const client = createClient<paths>({ baseUrl });
  client.use(bearer(signedIn.data.access_token));

  // 2. An organisation.
  const org = await client.POST("/api/v1/organizations", {
    body: { name: `Viện Công nghệ ${suffix}`, kind: "research_institute", province: "thanh-hoa" },
  });
  if (org.error) throw new Error(describeProblem(org.error));

  // 3. A listing, submitted for review.
  const created = await client.POST("/api/v1/technologies", {
    body: {
      organization_id: org.data.id,
      kind: "technology",
      title: "Quy trình xử lý nước thải chế biến thuỷ sản",
      summary: "Xử lý nước thải bằng màng sinh học.",
      description: "Công nghệ màng sinh học cho cơ sở chế biến thuỷ sản quy mô vừa.",
      sectors: ["2.7"],
      transfer_forms: [{ form: "usage_licence", exclusive: false, term_months: 60 }],
      province: "thanh-hoa",
      trl: 7,
      price: { basis: "firm", min: 750000000, max: 750000000, currency: "VND" },
    },
  });
  if (created.error) throw new Error(describeProblem(created.error));
  const submitted = await client.POST("/api/v1/technologies/{id}/submit", {
    params: { path: { id: created.data.id }, header: { "If-Match": `"${created.data.version}"` } },
  });
  if (submitted.error) throw new Error(describeProblem(submitted.error));
  const status: Schemas["Status"] = submitted.data.status;

  // 4. Search, and render a result row.
  const found = await anonymous.GET("/api/v1/technologies", {
    params: { query: { q: "xử lý nước thải", province: "thanh-hoa", per_page: 20 } },
  });
  if (found.error) throw new Error(describeProblem(found.error));
  const rows = found.data.items.map((item) => {
    const offers = item.transfer_forms.map((offer) => offer.form).join(", ");
    return `${item.title} — ${item.organization.name} (${offers}) TRL ${item.trl ?? "?"}`;
  });

  // 5. An enquiry about a published listing (from another organisation).
  const listing = found.data.items[0];
  if (listing === undefined) return `${status}: nothing found`;
  const enquiry = await client.POST("/api/v1/technologies/{id}/inquiries", {
    params: { path: { id: listing.id } },
    body: {
      organization_id: org.data.id,
      message: "Chúng tôi muốn tìm hiểu điều kiện chuyển giao.",
      intended_use: "Xử lý nước thải tại nhà máy",
      transfer_form: "usage_licence",
      budget: { amount: 500000000, currency: "VND" },
    },
  });
  if (enquiry.error) throw new Error(describeProblem(enquiry.error));

  // 6. A deal from the enquiry, and its list row and timeline.
  const deal = await client.POST("/api/v1/deals", {
    body: {
      inquiry_id: enquiry.data.id,
      terms: { transfer_form: "usage_licence", price: 500000000, currency: "VND" },
    },
  });
  if (deal.error) throw new Error(describeProblem(deal.error));
  const deals = await client.GET("/api/v1/deals", { params: { query: { page: 1 } } });
  if (deals.error) throw new Error(describeProblem(deals.error));
  const dealRows = deals.data.items.map((d) => `${d.id}: ${stageLabel(d.stage)}`);
  const events = await client.GET("/api/v1/deals/{id}/events", {
    params: { path: { id: deal.data.id } },
  });
  if (events.error) throw new Error(describeProblem(events.error));
  const timeline = events.data.items.map((e) => {
    const after = e.after;
    if (e.kind === "accepted" && after && "buyer_accepted" in after) {
      return `accepted: buyer ${after.buyer_accepted}, seller ${after.seller_accepted}`;
    }
    return `${e.kind} ${e.created_at}`;
  });

  return [...rows, ...dealRows, ...timeline].join("\n");
}
